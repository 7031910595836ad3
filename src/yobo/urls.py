from django.urls import include, path

from yobo.api.urls import fhir_urlpatterns, rest_urlpatterns, wellknown_urlpatterns

urlpatterns = [
    path("api/v1/", include(rest_urlpatterns)),
    path("fhir/", include(fhir_urlpatterns)),
    path(".well-known/", include(wellknown_urlpatterns)),
    path("", include("yobo.web.urls")),
    path("webauthn/", include("django_otp_webauthn.urls", namespace="otp_webauthn")),
]
