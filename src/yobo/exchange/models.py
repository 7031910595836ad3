"""Models of exchange; reached only through its services and selectors."""
