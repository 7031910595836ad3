"""API URL maps: REST under ``/api/v1/``, FHIR under ``/fhir/``, public documents under ``/.well-known/``.

Every route is described in ``openapi.OPERATIONS`` by its name (the API tests check it).
"""

from django.urls import re_path

from . import immunization, public, schedule_views, views

rest_urlpatterns = [
    re_path(r"^openapi\.json$", public.openapi, name="api-openapi"),
    re_path(r"^persons/(?P<atena_no>[0-9]{1,15})$", views.person_json, name="api-person"),
    re_path(r"^persons/(?P<atena_no>[0-9]{1,15})/schedule$", schedule_views.person_schedule,
            name="api-person-schedule"),
    re_path(r"^persons/(?P<atena_no>[0-9]{1,15})/certificates$", schedule_views.person_certificates,
            name="api-person-certificates"),
]
fhir_urlpatterns = [
    re_path(r"^Patient/(?P<atena_no>[0-9]{1,15})$", views.patient_read, name="fhir-patient"),
    re_path(r"^ImmunizationRecommendation$", schedule_views.recommendation_search,
            name="fhir-immunization-recommendation-search"),
    re_path(r"^Immunization/(?P<id>[0-9]{1,18})$", immunization.immunization_read, name="fhir-immunization"),
    re_path(r"^Immunization$", immunization.immunization_search, name="fhir-immunization-search"),
]
wellknown_urlpatterns = [
    re_path(r"^jwks\.json$", public.jwks, name="shc-jwks"),
    re_path(r"^crl/(?P<kid>[A-Za-z0-9_\-]{1,64})\.json$", public.crl, name="shc-crl"),
]
