"""Writes to the resident register (宛名の登録・更新). Every function takes an ``AccessContext`` and
runs inside the audit door, so the change and its access-log entry commit together.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from django.conf import settings

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation

from .importer import MASS_ABSENT_SHARE, ImportRejected, ImportSummary, import_extract
from .selectors import BATCH_RESOURCE

__all__ = ["MASS_ABSENT_SHARE", "ImportRejected", "ImportSummary", "import_residents"]


# The import itself lives in ``importer`` (staging, SQL diff, vault, history); this is its public name:
# import a resident-register extract (住民記録の取込, CONTRACTS.md §1), purpose P01, one batch, through
# the door. Raises ``ImportRejected`` (nothing applied) or ``AccessDenied``.
import_residents = import_extract


def ensure_demo_city(
    ctx: AccessContext, var_dir: Path, *, count: int = 20_000, seed: int = 2025
) -> ImportSummary | None:
    """Load the demo city (合成住民データ) once: synthesise ``count`` residents with a fixed seed into
    ``var_dir`` and import them, only while no person is on record. Returns None when already loaded."""
    from django.conf import settings

    from yobo.audit.door import door
    from yobo.core.purposes import Operation

    from . import synth
    from .models import Person

    with door(ctx, Operation.SEARCH, resource="people.person", detail="demo city check"):
        loaded = Person.objects.filter(municipality=settings.MUNICIPALITY_CODE).exists()
    if loaded:
        return None
    path = Path(var_dir) / f"demo-residents-{seed}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    as_of = date(2025, 4, 1)
    synth.write_csv(path, count, seed=seed, as_of=as_of, date_style="mixed", kana="mixed")
    first = import_residents(ctx, path, as_of=as_of)
    # the next day's complete snapshot lacks a few residents, so the demo's 住民記録の連携 page has
    # absences to review (decision 052), as a city's daily run would
    snapshot = path.with_name(f"demo-residents-{seed}-snapshot.csv")
    synth.write_csv(snapshot, count, seed=seed, as_of=as_of, date_style="mixed", kana="mixed", leave_out=DEMO_ABSENT)
    import_residents(ctx, snapshot, as_of=as_of + timedelta(days=1), full=True)
    return first


DEMO_ABSENT = 6
DEMO_CHANGES_ON = date(2025, 4, 3)


def ensure_demo_changes(ctx: AccessContext, var_dir: Path, *, seed: int = 2025) -> ImportSummary | None:
    """The demo city's next daily diff (日次の異動): a family's move, a move out, a death, a surname
    change and a birth (``synth.demo_changes``), imported once after the complete snapshot of
    :func:`ensure_demo_city`, so the demo's person pages show a history of changes and its batch
    list a diff with 住民区分 changes. Returns None when already imported or no snapshot is there."""
    from . import synth
    from .models import BatchStatus, ImportBatch

    snapshot = Path(var_dir) / f"demo-residents-{seed}-snapshot.csv"
    path = snapshot.with_name(f"demo-residents-{seed}-changes.csv")
    with door(ctx, Operation.SEARCH, resource=BATCH_RESOURCE, detail="demo changes check"):
        done = ImportBatch.objects.filter(municipality=settings.MUNICIPALITY_CODE, file_name=path.name,
                                          status=BatchStatus.APPLIED).exists()
    if done or not snapshot.is_file():
        return None
    synth.write_demo_changes(snapshot, path, DEMO_CHANGES_ON, seed=seed)
    return import_residents(ctx, path, as_of=DEMO_CHANGES_ON)


# The demo city's waiting work for a second staff member (二人確認): what the demo's clerk entered
# and demo-admin, another staff member, is to confirm. Fictional people and addresses.
DEMO_NONRESIDENTS = (
    ("港　春子", "ミナト　ハルコ", date(2025, 2, 14), 2, "東京都港区芝公園四丁目2番8号",
     "住所地外接種の届出（里帰り出産の乳児、住民票は港区）"),
    ("大倉　健", "オオクラ　ケン", date(1948, 11, 3), 1, "大阪府大阪市北区中之島一丁目3番20号",
     "市内の施設に入所中（住民票は前住所地）"),
)


def ensure_demo_requests(p03: AccessContext, p04: AccessContext, *, seed: int = 2025) -> int:
    """Put waiting work for a second staff member into the demo city, once: two 住登外者 applications
    (P03, with a synthetic My Number and the identity check of a 個人番号カード) and one 支援措置
    request (P04) for a resident, entered under ``p03``/``p04`` (the demo's clerk). Another staff member
    confirms them, as in a city. Returns how many were entered (0 when the demo already has some)."""
    import random

    from yobo.core.errors import InputRejected
    from yobo.mynumber import checkdigit
    from yobo.mynumber.services import Verification

    from . import nonresidents, protection
    from .models import NonResidentApplication, Person, ProtectionAction, ProtectionRequest

    m = settings.MUNICIPALITY_CODE
    with door(p03, Operation.SEARCH, resource="people.person", detail="demo requests check"):
        if (NonResidentApplication.objects.filter(municipality=m).exists()
                or ProtectionRequest.objects.filter(municipality=m).exists()):
            return 0
        resident = (Person.objects.filter(municipality=m, status=1, birth_date__lt=date(1995, 1, 1))
                    .order_by("atena_no").values_list("atena_no", flat=True).first())
    rng = random.Random(seed)  # noqa: S311 - synthetic numbers, not secrets
    made = 0
    for kanji, kana, born, sex, address, reason in DEMO_NONRESIDENTS:
        for _ in range(5):  # a synthetic number may already be a demo resident's: take another
            try:
                nonresidents.apply(p03, nonresidents.Applicant(kanji, kana, born, sex, address, reason),
                                   checkdigit.generate(rng),
                                   Verification(number_check="card", identity_documents=("card",)))
                made += 1
                break
            except InputRejected:
                continue
    if resident:
        protection.request_change(p04, resident, ProtectionAction.SET,
                                  note="支援措置申出書の受付（デモ）")
        made += 1
    return made


def set_use_suspension(ctx: AccessContext, atena_no: str, suspended: bool, *, reason: str = "", scope: str = "",
                       request_ref: str = "") -> bool:
    """Put a person's data under suspension of use (利用停止), or lift it; purpose G01 (the resident's
    request). Returns whether anything changed. A person who does not exist is refused."""
    from django.conf import settings
    from django.utils import timezone

    from yobo.audit.door import door
    from yobo.core.errors import InputRejected
    from yobo.core.purposes import Operation

    from .models import Person, UseSuspension

    a = str(atena_no).strip()
    with door(ctx, Operation.UPDATE, resource="people.suspension", target=a,
              detail=f"use suspension {'set' if suspended else 'lift'} ref={request_ref}"[:200]):
        m = settings.MUNICIPALITY_CODE
        if not Person.objects.filter(municipality=m, atena_no=a).exists():
            raise InputRejected(f"宛名番号 {a} の住民は登録されていません。 / No person with 宛名番号 {a}.")
        active = UseSuspension.objects.select_for_update().filter(municipality=m, atena_no=a, lifted_at__isnull=True)
        if suspended:
            if active.exists():
                return False
            if not reason.strip():
                raise InputRejected("利用停止の理由を入力してください。 / Give the reason.")
            UseSuspension.objects.create(municipality=m, atena_no=a, scope=scope.strip()[:200],
                                         reason=reason.strip()[:200], request_ref=request_ref[:32],
                                         since=timezone.now(), set_by_id=ctx.staff_id)
            return True
        return bool(active.update(lifted_at=timezone.now(), lifted_by_id=ctx.staff_id))
