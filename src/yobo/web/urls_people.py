"""Resident search, person page, 住登外者 and 支援措置 (see people_views)."""

from django.urls import path, re_path

from . import people_views as v

app_name = "people"
urlpatterns = [
    path("", v.search, name="search"),
    path("mynumber/", v.search_mynumber, name="search_mynumber"),
    path("nonresidents/", v.nonresident_list, name="nonresidents"),
    path("nonresidents/new/", v.nonresident_new, name="nonresident_new"),
    re_path(r"^nonresidents/(?P<application_id>[0-9]+)/(?P<decision>confirm|withdraw)/$", v.nonresident_decide,
            name="nonresident_decide"),
    re_path(r"^switches/(?P<switch_id>[0-9]+)/(?P<decision>confirm|withdraw)/$", v.switch_decide,
            name="switch_decide"),
    path("batches/", v.batch_list, name="batches"),
    re_path(r"^batches/(?P<batch_id>[0-9]+)/$", v.batch_detail, name="batch"),
    re_path(r"^batches/(?P<batch_id>[0-9]+)/review/(?P<atena_no>[0-9]{1,15})/$", v.batch_review,
            name="batch_review"),
    path("protection/", v.protection_pending, name="protection_pending"),
    re_path(r"^protection/(?P<request_id>[0-9]+)/(?P<decision>confirm|withdraw)/$", v.protection_decide,
            name="protection_decide"),
    re_path(r"^(?P<atena_no>[0-9]{1,15})/$", v.person, name="person"),
    re_path(r"^(?P<atena_no>[0-9]{1,15})/protection/$", v.protection_request, name="protection_request"),
    re_path(r"^(?P<atena_no>[0-9]{1,15})/switch/$", v.switch_request, name="switch_request"),
]
