"""``yobo certificates issue|verify|jwks|revoke|keys rotate`` and the PDF (fonts embedded, QR readable)."""

from __future__ import annotations

import json
import shutil
import subprocess
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from yobo.access.models import Terminal
from yobo.core.purposes import Duty

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch, make_staff: Any, certificate_city: Any) -> Any:
    Terminal.objects.create(name="madoguchi-cli", kind="cli")
    s = make_staff("shomei.ops", duties=[Duty.CERTIFICATE, Duty.ADMIN])
    monkeypatch.setenv("YOBO_OPERATOR", "shomei.ops")
    monkeypatch.setenv("YOBO_TERMINAL", "madoguchi-cli")
    return s


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("certificates", *args, stdout=out)
    except CommandError as exc:
        return int(exc.returncode), out.getvalue()
    return 0, out.getvalue()


def qr_texts(pdf: Path, tmp: Path) -> list[str]:
    """Render the first page and read its QR codes (zxing-cpp), as a phone would."""
    import zxingcpp
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", "200", "-f", "1", "-l", "1", "-png", str(pdf), str(tmp / "page")], check=True)
    img = Image.open(next(tmp.glob("page*.png")))
    return [r.text for r in zxingcpp.read_barcodes(img) if r.format == zxingcpp.BarcodeFormat.QRCode]


def test_issue_verify_revoke_by_cli(operator: Any, tmp_path: Path) -> None:
    code, out = run("issue", "--atena", "1000000001", "--out", str(tmp_path), "--json")
    assert code == 0, out
    res = json.loads(out)
    pdf, shc_file = Path(res["pdf"]), Path(res["shc"])
    assert pdf.exists() and shc_file.read_text().startswith("shc:/")
    code, out = run("verify", str(shc_file), "--json")
    assert code == 0 and json.loads(out)["valid"] and json.loads(out)["names"] == ["山田 太郎"]
    code, out = run("verify", str(shc_file))
    assert "有効 / VALID" in out and "2020-07-10 HIB lot HB001" in out
    # tampered: one digit pair changed
    text = shc_file.read_text().strip()
    bad = text[:200] + ("11" if text[200:202] != "11" else "12") + text[202:]
    code, out = run("verify", bad, "--json")
    assert code == 1 and not json.loads(out)["valid"]
    assert run("verify", str(tmp_path / "missing.shc"))[0] == 2
    # offline against an exported key set: an unknown key, then the right one
    jwks_file = tmp_path / "jwks.json"
    code, out = run("jwks")
    keyset = json.loads(out)
    assert all("d" not in k and k["alg"] == "ES256" and k["crlVersion"] == 1 for k in keyset["keys"])
    jwks_file.write_text(json.dumps({"keys": []}))
    code, out = run("verify", str(shc_file), "--jwks", str(jwks_file), "--json")
    assert code == 1 and json.loads(out)["reason"] == "unknown_kid"
    jwks_file.write_text(json.dumps(keyset))
    code, out = run("verify", str(shc_file), "--jwks", str(jwks_file), "--json")
    assert code == 0 and not json.loads(out)["revocation_checked"]
    assert run("revoke", res["certificate_id"], "--reason", "誤交付")[0] == 0
    code, out = run("verify", str(shc_file), "--json")
    assert code == 1 and json.loads(out)["reason"] == "revoked"
    code, out = run("keys", "rotate", "--json")
    assert code == 0 and json.loads(out)["retired"] == keyset["keys"][0]["kid"]


@pytest.mark.skipif(shutil.which("pdffonts") is None, reason="poppler-utils not installed")
def test_pdf_fonts_embedded_and_qr_decodes(operator: Any, tmp_path: Path) -> None:
    from pypdf import PdfReader

    for lang, extra in (("ja", []), ("en", ["--romanised-name", "Yamada Taro", "--passport", "TK1234567",
                                             "--nationality", "JPN"])):
        out_dir = tmp_path / lang
        code, out = run("issue", "--atena", "1000000001", "--out", str(out_dir), "--lang", lang, "--json", *extra)
        assert code == 0, out
        res = json.loads(out)
        pdf = Path(res["pdf"])
        fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
        rows = fonts.splitlines()[2:]
        assert rows and all(" yes " in r for r in rows)
        text = PdfReader(str(pdf)).pages[0].extract_text()
        assert res["certificate_id"] in text
        if lang == "ja":
            assert "予防接種証明書" in text and "山田" in text and "令和2年5月1日" in text
        else:
            assert "YAMADA TARO" in text and "TK1234567" in text and "Certificate of Vaccination" in text
        assert qr_texts(pdf, out_dir) == [Path(res["shc"]).read_text().strip()]
