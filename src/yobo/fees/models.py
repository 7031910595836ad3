"""Models of fees; reached only through its services and selectors."""
