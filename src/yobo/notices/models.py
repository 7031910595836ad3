"""Models of notices; reached only through its services and selectors."""
