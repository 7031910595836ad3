"""Staff pages of exchange (views in web/exchange_views.py)."""

from django.urls import URLPattern, URLResolver, path, re_path

from . import exchange_views as v

app_name = "exchange"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", v.index, name="index"),
    re_path(r"^person/(?P<atena_no>[0-9]{1,15})/$", v.person, name="person"),
    path("held/", v.held, name="held"),
    re_path(r"^held/(?P<provision_id>[0-9]+)/(?P<decision>release|withhold)/$", v.decide, name="decide"),
    path("receive/", v.receive, name="receive"),
    path("records/", v.records, name="records"),
]
