"""Staff pages of fees (views in web/fees_views.py)."""

from django.urls import path

from . import fees_settings_views as fs
from . import fees_views as v

app_name = "fees"
urlpatterns = [
    path("", v.index, name="index"),
    path("check/", v.check, name="check"),
    path("decisions/<int:decision_id>/", v.decision, name="decision"),
    path("decisions/<int:decision_id>/certificate/", v.certificate, name="certificate"),
    path("queries/<int:query_id>/answer/", v.answer, name="answer"),
    path("claims/", v.claims, name="claims"),
    path("claims/build/", v.claims_build, name="claims_build"),
    path("claims/pay/", v.claims_pay, name="claims_pay"),
    path("claims/<int:claim_id>/approve/", v.claim_approve, name="claim_approve"),
    path("claims/<int:claim_id>/statement/", v.claim_statement, name="claim_statement"),
    # Money settings (fees_settings_views): fee amounts, unit prices, clinic accounts, relief amounts.
    path("settings/", fs.index, name="settings"),
    path("settings/fees/", fs.fees, name="settings_fees"),
    path("settings/prices/", fs.prices, name="settings_prices"),
    path("settings/accounts/", fs.accounts, name="settings_accounts"),
    path("settings/relief/", fs.relief_amounts, name="settings_relief"),
]
