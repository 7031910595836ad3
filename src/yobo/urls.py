from django.urls import include, path

urlpatterns = [
    path("", include("yobo.web.urls")),
    path("", include("yobo.access.urls")),
    path("audit/", include("yobo.audit.urls")),
    path("webauthn/", include("django_otp_webauthn.urls", namespace="otp_webauthn")),
]
