"""Models of relief; reached only through its services and selectors."""
