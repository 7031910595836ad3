"""Dose records (接種履歴): masters, validation, imports, VRS matching."""
