"""Error types shared by every app.

Messages are written for staff (Japanese first, English after) and must never carry a My Number.
"""

from __future__ import annotations


class YoboError(Exception):
    """Base class; ``exit_code`` follows CONTRACTS.md (2 rejected input, 3 not permitted)."""

    exit_code = 1


class AccessDenied(YoboError):
    """The door refused the call (権限なし). Already logged when raised by the door."""

    exit_code = 3

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or DENIAL_MESSAGES.get(reason, DENIAL_MESSAGES["not_permitted"]))


class InputRejected(YoboError):
    """Bad input: nothing was changed (入力不備)."""

    exit_code = 2


class IntegrityBroken(YoboError):
    """A verification found a break (e.g. the access log chain)."""

    exit_code = 1


DENIAL_MESSAGES: dict[str, str] = {
    "no_purpose": "処理事由が指定されていません。業務メニューから処理事由を選んで操作してください。"
    " / No purpose (処理事由) was given.",
    "unknown_purpose": "処理事由が正しくありません。 / Unknown purpose code.",
    "purpose_not_permitted": "この処理事由はあなたの職責では使えません。"
    "権限が必要な場合は所属の管理者に申請してください。 / Your duty does not permit this purpose.",
    "operation_not_permitted": "この操作はこの処理事由では行えません。"
    " / This operation is not permitted for this purpose.",
    "mynumber_right": "個人番号の参照権限がありません。 / You do not hold the My Number right.",
    "contractor_export": "委託先アカウントは外部出力できません。 / Contractor accounts cannot export.",
    "no_terminal": "登録された端末からのみ利用できます。 / Only registered terminals may be used.",
    "account_inactive": "アカウントが有効ではありません。管理者に連絡してください。 / The account is not active.",
    "not_permitted": "権限がありません。 / Not permitted.",
}
