from django.urls import include, path

urlpatterns = [
    path("", include("yobo.web.urls")),
    path("webauthn/", include("django_otp_webauthn.urls", namespace="otp_webauthn")),
]
