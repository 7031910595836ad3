"""Models of certificates; reached only through its services and selectors."""
