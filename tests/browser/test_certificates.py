"""Issue a vaccination certificate in a real browser: application, search by the three basic items
(half-width kana, full-width digits), pick, issue, download the PDF. The QR code printed in the PDF
decodes to the card shown on the page, which verifies with the project's verifier and with an
independent check written here with only jwcrypto and zlib against the served key set."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import zlib
from base64 import urlsafe_b64decode
from datetime import date
from pathlib import Path
from typing import Any

from yobo.core.purposes import Duty, Operation, Purpose

from .test_login import SHOTS, _focus, _login, enrolled  # noqa: F401  (the fixture is used by name)


def _city(make_ctx: Any) -> None:
    from yobo.certificates import issuer_keys
    from yobo.immunizations import demo, services
    from yobo.immunizations.inputs import DoseInput, Source
    from yobo.people.tests.test_registry_staff import add_person

    issuer_keys.ensure_keys()
    add_person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(2020, 5, 1))
    add_person("1000000002", "山田　太郎", "ヤマダ　タロウ", date(1961, 5, 1), address="横浜市港北区日吉本町10番地")
    clerk = make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK])
    services.load_demo_masters(clerk)
    for vaccine, on, lot in (("HIB", date(2020, 7, 10), "HB001"), ("BCG", date(2020, 10, 1), "BC101"),
                             ("MR1", date(2021, 5, 10), "MR555")):
        services.record_dose(clerk, DoseInput(atena_no="1000000001", vaccine=vaccine, date=on,
                                              clinic_code=demo.clinic_code(0), lot_number=lot, source=Source.KEYED))


def _independent_check(shc_text: str, base_url: str) -> dict[str, Any]:
    """Only jwcrypto and zlib: numeric decoding, key by kid from the served key set, ES256, raw DEFLATE."""
    from jwcrypto import jwk, jws

    assert shc_text.startswith("shc:/")
    digits = shc_text[5:]
    token = "".join(chr(int(digits[i:i + 2]) + 45) for i in range(0, len(digits), 2))
    head_b64 = token.split(".")[0]
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    header = json.loads(urlsafe_b64decode(pad(head_b64)))
    assert header["alg"] == "ES256" and header["zip"] == "DEF"
    with urllib.request.urlopen(f"{base_url}/.well-known/jwks.json") as resp:  # noqa: S310  (the test server)
        keyset = json.loads(resp.read())
    key_data = next(k for k in keyset["keys"] if k["kid"] == header["kid"])
    key = jwk.JWK(**key_data)
    assert key.thumbprint() == header["kid"]  # kid = SHA-256 JWK thumbprint
    checker = jws.JWS()
    checker.deserialize(token)
    checker.verify(key, alg="ES256")  # raises on a bad signature
    claims = json.loads(zlib.decompress(checker.payload, -15))
    return dict(claims)


def test_issue_a_certificate_found_by_the_three_items(
        page: Any, enrolled: dict[str, Any], make_ctx: Any, tmp_path: Path) -> None:  # noqa: F811
    import zxingcpp
    from PIL import Image

    from yobo.audit.models import AccessLogEntry
    from yobo.certificates import issuer_keys
    from yobo.certificates import selectors as cert_selectors
    from yobo.certificates.verify import verify

    _city(make_ctx)
    SHOTS.mkdir(parents=True, exist_ok=True)
    _login(page, enrolled)
    page.click("text=接種証明書の交付")
    page.wait_for_url("**/certificates/")
    _focus(page, "name", "applicant_name")
    page.keyboard.type("山田　花子")
    page.fill("#id_agent_relationship", "母")
    page.check("input[name=applicant_kind][value=agent]")
    page.check("input[name=documents_seen][value=driver_license]")
    page.check("input[name=letter_of_authority_seen]")
    page.click("text=申請を受け付ける")
    page.wait_for_url("**/certificates/applications/*/")
    _focus(page, "name", "address")
    page.keyboard.type("本町１丁目")
    page.keyboard.press("Tab")
    page.keyboard.type("ﾔﾏﾀﾞ ﾀﾛｳ")
    page.keyboard.press("Tab")
    page.keyboard.type("R2.5.1")
    page.keyboard.press("Enter")
    rows = page.locator("[data-testid=candidates] tbody tr")
    rows.first.wait_for()
    assert rows.count() == 1 and "1000000001" in rows.first.inner_text()  # the 1961 namesake lives elsewhere
    page.screenshot(path=str(SHOTS / "certificates-search.png"), full_page=True)
    page.click("button.pick[data-atena='1000000001']")
    page.locator("[data-testid=picked]").wait_for()
    assert "山田　太郎" in page.locator("[data-testid=picked]").inner_text()
    assert page.locator("[data-testid=doses] tbody tr").count() == 3
    _focus(page, "id", "issue")
    page.keyboard.press("Enter")
    page.wait_for_url("**/certificates/141003-*/")
    cert_id = page.locator("[data-testid=certificate-id]").inner_text().strip()
    shc_text = page.locator("[data-testid=shc]").first.inner_text().strip()
    page.screenshot(path=str(SHOTS / "certificates-issued.png"), full_page=True)

    with page.expect_download() as dl:
        page.click("[data-testid=pdf]")
    pdf = tmp_path / "cert.pdf"
    dl.value.save_as(str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "200", "-f", "1", "-l", "1", "-png", str(pdf), str(tmp_path / "page")],
                   check=True)
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(next(tmp_path.glob("page*.png"))))]
    assert decoded == [shc_text]

    # The project's verifier, with the project's key set and revocation lists.
    keyset = issuer_keys.public_jwks(cert_selectors.crl_versions())
    crls = cert_selectors.revocation_lists([k["kid"] for k in keyset["keys"]])
    v = verify(decoded[0], keyset, crls)
    assert v.ok and v.names == ("山田 太郎",) and v.birth_date == "2020-05-01"
    assert [d.vaccine for d in v.doses] == ["HIB", "BCG", "MR1"]

    # An independent check (jwcrypto + zlib only) against the key set the server publishes.
    claims = _independent_check(decoded[0], enrolled["url"])
    bundle = claims["vc"]["credentialSubject"]["fhirBundle"]
    assert claims["vc"]["type"][0] == "https://smarthealth.cards#health-card"
    assert bundle["entry"][0]["resource"]["birthDate"] == "2020-05-01"
    assert [e["resource"]["occurrenceDateTime"] for e in bundle["entry"][1:]] == ["2020-07-10", "2020-10-01",
                                                                                  "2021-05-10"]

    staff = enrolled["staff"].username
    issued = AccessLogEntry.objects.get(staff=staff, operation=Operation.ISSUE)
    assert issued.target == "1000000001" and issued.purpose == "C01" and cert_id in issued.detail
    assert set(AccessLogEntry.objects.filter(staff=staff, operation=Operation.SEARCH, resource="people.person")
               .values_list("purpose", flat=True)) == {"C01"}
