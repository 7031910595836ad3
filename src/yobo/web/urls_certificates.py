"""Staff pages of certificates (views in web/certificates_views.py)."""

from django.urls import path, re_path

from . import certificates_views as v

app_name = "certificates"
_CERT = r"(?P<certificate_id>[0-9]{6}-[0-9]{8}-[0-9A-F]{8})"
urlpatterns = [
    path("", v.index, name="index"),
    re_path(r"^applications/(?P<app_id>[0-9]+)/$", v.application, name="application"),
    re_path(r"^applications/(?P<app_id>[0-9]+)/mynumber/$", v.search_mynumber, name="search_mynumber"),
    re_path(r"^applications/(?P<app_id>[0-9]+)/identify/$", v.identify, name="identify"),
    re_path(r"^applications/(?P<app_id>[0-9]+)/issue/$", v.issue, name="issue"),
    re_path(r"^applications/(?P<app_id>[0-9]+)/withdraw/$", v.withdraw, name="withdraw"),
    re_path(rf"^{_CERT}/$", v.certificate, name="certificate"),
    re_path(rf"^{_CERT}/pdf$", v.certificate_pdf, name="pdf"),
    re_path(rf"^{_CERT}/shc$", v.certificate_shc, name="shc"),
    re_path(rf"^{_CERT}/revoke/$", v.revoke, name="revoke"),
    re_path(r"^person/(?P<atena_no>[0-9]{1,15})/$", v.person_certificates, name="person"),
]
