"""Models of immunizations; reached only through its services and selectors."""
