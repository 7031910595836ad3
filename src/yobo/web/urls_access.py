"""Login, second factor, idle lock, staff and terminal administration (see access_views)."""

from django.urls import path

from . import access_views as v

urlpatterns = [
    path("login/", v.login_view, name="login"),
    path("login/2fa/", v.second_factor_view, name="second-factor"),
    path("login/enroll/", v.enroll_totp_view, name="enroll-totp"),
    path("logout/", v.logout_view, name="logout"),
    path("lock/", v.lock_view, name="lock"),
    path("session/ping/", v.ping_view, name="session-ping"),
    path("healthz", v.healthz, name="healthz"),
    path("terminal/enroll/<str:code>/", v.terminal_enroll_view, name="terminal-enroll"),
    path("account/security/", v.security_view, name="security"),
    path("staff/", v.staff_list_view, name="staff-list"),
    path("staff/new/", v.staff_create_view, name="staff-create"),
    path("staff/<str:username>/", v.staff_detail_view, name="staff-detail"),
    path("terminals/", v.terminal_list_view, name="terminal-list"),
]
