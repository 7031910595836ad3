"""Staff pages of relief (views in web/relief_views.py)."""

from django.urls import path

from . import relief_views as v

app_name = "relief"
urlpatterns = [
    path("", v.claim_list, name="list"),
    path("new/", v.claim_new, name="new"),
    path("<int:claim_id>/", v.claim_detail, name="detail"),
    path("<int:claim_id>/move/", v.claim_move, name="move"),
    path("<int:claim_id>/attach/", v.claim_attach, name="attach"),
    path("<int:claim_id>/pay/", v.claim_pay, name="pay"),
    path("<int:claim_id>/year/", v.claim_year, name="year"),
    path("documents/<int:document_id>/", v.document, name="document"),
]
