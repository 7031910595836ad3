"""Forms of the login, lock and administration pages (ログイン・管理画面の入力欄)."""

from __future__ import annotations

from django import forms

from yobo.core.purposes import DUTY_LABELS, Duty

_STAFF_DUTIES = [(str(d), DUTY_LABELS[d]) for d in Duty if d is not Duty.CONTRACTOR_ENTRY]


class LoginForm(forms.Form):
    username = forms.CharField(label="ユーザーID", max_length=150,
                               widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username",
                                                             "autocapitalize": "none", "spellcheck": "false"}))
    password = forms.CharField(label="パスワード", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class CodeForm(forms.Form):
    code = forms.CharField(label="確認コード（6桁）", max_length=10,
                           widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "one-time-code",
                                                         "inputmode": "numeric", "pattern": "[0-9 ]*"}))


class UnlockForm(forms.Form):
    password = forms.CharField(label="パスワード", strip=False,
                               widget=forms.PasswordInput(attrs={"autofocus": True,
                                                                 "autocomplete": "current-password"}))


class StaffCreateForm(forms.Form):
    username = forms.CharField(label="ユーザーID（個人ごと）", max_length=64,
                               widget=forms.TextInput(attrs={"autofocus": True}))
    last_name = forms.CharField(label="姓", max_length=150)
    first_name = forms.CharField(label="名", max_length=150)
    department = forms.ChoiceField(label="所属", required=False)
    duties = forms.MultipleChoiceField(label="職責", choices=_STAFF_DUTIES, required=False,
                                       widget=forms.CheckboxSelectMultiple)
    contractor_company = forms.CharField(label="委託先事業者名（委託先アカウントのみ）", max_length=200,
                                         required=False)
    expires_on = forms.DateField(label="有効期限（委託先は必須）", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    mynumber_right = forms.BooleanField(label="個人番号参照権限を付与する", required=False)

    def __init__(self, *args: object, departments: list[tuple[str, str]] | None = None, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.fields["department"].choices = [("", "（なし）"), *(departments or [])]  # type: ignore[attr-defined]


class StaffEditForm(forms.Form):
    last_name = forms.CharField(label="姓", max_length=150)
    first_name = forms.CharField(label="名", max_length=150)
    department = forms.ChoiceField(label="所属", required=False)
    duties = forms.MultipleChoiceField(label="職責", choices=_STAFF_DUTIES, required=False,
                                       widget=forms.CheckboxSelectMultiple)
    expires_on = forms.DateField(label="有効期限", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: object, departments: list[tuple[str, str]] | None = None,
                 contractor: bool = False, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.fields["department"].choices = [("", "（なし）"), *(departments or [])]  # type: ignore[attr-defined]
        if contractor:
            self.fields["duties"].choices = [(str(Duty.CONTRACTOR_ENTRY), DUTY_LABELS[Duty.CONTRACTOR_ENTRY])]  # type: ignore[attr-defined]


class RevokeForm(forms.Form):
    reason = forms.CharField(label="失効の理由（退職・異動・委託終了など）", max_length=200)


class TerminalForm(forms.Form):
    name = forms.CharField(label="端末名", max_length=64, widget=forms.TextInput(attrs={"autofocus": True}))
    kind = forms.ChoiceField(label="種類", choices=[("web", "窓口端末（ブラウザ）"), ("cli", "バッチ・運用端末"),
                                                   ("system", "外部システム")])
    department = forms.ChoiceField(label="所属", required=False)
    location = forms.CharField(label="設置場所", max_length=200, required=False)
    cert_fingerprint = forms.CharField(label="クライアント証明書のSHA-256フィンガープリント（任意）",
                                       max_length=95, required=False)

    def __init__(self, *args: object, departments: list[tuple[str, str]] | None = None, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.fields["department"].choices = [("", "（なし）"), *(departments or [])]  # type: ignore[attr-defined]
