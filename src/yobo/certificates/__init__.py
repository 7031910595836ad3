"""Vaccination certificates (接種証明書): applications, PDF and SMART Health Card."""
