"""REST (JSON) and FHIR R4 interfaces for other systems (API). A plain package, not a Django app:
it has no models; it reads through the apps' selectors like the web views do."""
