"""Models of governance; reached only through its services and selectors."""
