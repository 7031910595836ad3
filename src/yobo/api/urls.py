"""API URL maps: REST under ``/api/v1/``, FHIR under ``/fhir/``."""

from django.urls import re_path

from . import views

rest_urlpatterns = [
    re_path(r"^persons/(?P<atena_no>[0-9]{1,15})$", views.person_json, name="api-person"),
]
fhir_urlpatterns = [
    re_path(r"^Patient/(?P<atena_no>[0-9]{1,15})$", views.patient_read, name="fhir-patient"),
]
