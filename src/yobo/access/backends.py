"""Authentication backend: password check plus account lifecycle (expiry, revocation, lockout)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend


class StaffBackend(ModelBackend):
    """ModelBackend that refuses accounts that are expired, revoked, locked or not yet valid."""

    def user_can_authenticate(self, user: Any) -> bool:
        return bool(super().user_can_authenticate(user)) and user.inactive_reason() is None
