"""Models of exports; reached only through its services and selectors."""
