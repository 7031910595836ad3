"""The demo city's masters: clinics (実施医療機関), Japan's routine-vaccine products and lots.

Pure data (no Django). Product names and their makers (製造販売元) are those of the vaccines used
for Japan's routine immunizations (定期接種) as of 2025; clinic names, codes and lots are synthetic
(deterministic), codes shaped like real ones: 都道府県14 (神奈川) + 点数表1 (医科) + 7 digits.
"""

from __future__ import annotations

from datetime import date

from .masterdata import ClinicData, LotData, ProductData

BIKEN = "阪大微生物病研究会"
KMB = "KMバイオロジクス"
DAIICHI = "第一三共"
TAKEDA = "武田薬品工業"
MSD = "MSD"
PFIZER = "ファイザー"
GSK = "グラクソ・スミスクライン"
SANOFI = "サノフィ"
JBCG = "日本ビーシージー製造"
DENKA = "デンカ"
MODERNA = "モデルナ・ジャパン"
MEIJI = "Meiji Seika ファルマ"

# (code, name, vaccine codes, maker, schedule product, standard amount mL)
PRODUCTS: tuple[tuple[str, str, tuple[str, ...], str, str, str], ...] = (
    ("ACTHIB", "アクトヒブ", ("HIB",), SANOFI, "", "0.5"),
    ("PCV20", "プレベナー20水性懸濁注", ("PCV",), PFIZER, "PCV20", "0.5"),
    ("PCV15", "バクニュバンス水性懸濁注", ("PCV",), MSD, "PCV15", "0.5"),
    ("PCV13", "プレベナー13水性懸濁注", ("PCV",), PFIZER, "PCV13", "0.5"),
    ("HEPB-MSD", "ヘプタバックス-II", ("HEPB",), MSD, "", "0.25"),
    ("HEPB-KMB", "ビームゲン注", ("HEPB",), KMB, "", "0.25"),
    ("RV1", "ロタリックス内用液", ("ROTA",), GSK, "RV1", "1.5"),
    ("RV5", "ロタテック内用液", ("ROTA",), MSD, "RV5", "2.0"),
    ("GOBIK", "ゴービック水性懸濁注シリンジ", ("DPT-IPV-HIB",), BIKEN, "", "0.5"),
    ("QUINTOVAC", "クイントバック水性懸濁注射用", ("DPT-IPV-HIB",), KMB, "", "0.5"),
    ("TETRABIK", "テトラビック皮下注シリンジ", ("DPT-IPV",), BIKEN, "", "0.5"),
    ("QUATTROVAC", "クアトロバック皮下注シリンジ", ("DPT-IPV",), KMB, "", "0.5"),
    ("SQUAREKIDS", "スクエアキッズ皮下注シリンジ", ("DPT-IPV",), DAIICHI, "", "0.5"),
    ("BCG", "乾燥BCGワクチン（経皮用・1人用）", ("BCG",), JBCG, "", ""),
    ("MR-BIKEN", "ミールビック", ("MR1", "MR2"), BIKEN, "", "0.5"),
    ("MR-TAKEDA", "乾燥弱毒生麻しん風しん混合ワクチン「タケダ」", ("MR1", "MR2"), TAKEDA, "", "0.5"),
    ("MR-DAIICHI", "はしか風しん混合生ワクチン「第一三共」", ("MR1", "MR2"), DAIICHI, "", "0.5"),
    ("VAR-BIKEN", "乾燥弱毒生水痘ワクチン「ビケン」", ("VAR", "HZ-B"), BIKEN, "LZV", "0.5"),
    ("JEBIK", "ジェービックV", ("JE1", "JE2"), BIKEN, "", "0.5"),
    ("ENCEVAC", "エンセバック皮下注用", ("JE1", "JE2"), KMB, "", "0.5"),
    ("DTBIK", "DTビック", ("DT",), BIKEN, "", "0.1"),
    ("SILGARD9", "シルガード9水性懸濁筋注シリンジ", ("HPV",), MSD, "9vHPV", "0.5"),
    ("GARDASIL", "ガーダシル水性懸濁筋注シリンジ", ("HPV",), MSD, "4vHPV", "0.5"),
    ("CERVARIX", "サーバリックス", ("HPV",), GSK, "2vHPV", "0.5"),
    ("FLU-BIKEN", "インフルエンザHAワクチン「ビケンHA」", ("FLU-B",), BIKEN, "", "0.5"),
    ("FLU-KMB", "インフルエンザHAワクチン「KMB」", ("FLU-B",), KMB, "", "0.5"),
    ("FLU-DENKA", "インフルエンザHAワクチン「生研」", ("FLU-B",), DENKA, "", "0.5"),
    ("FLU-DAIICHI", "インフルエンザHAワクチン「第一三共」", ("FLU-B",), DAIICHI, "", "0.5"),
    ("PNEUMOVAX", "ニューモバックスNP", ("PPSV-B",), MSD, "", "0.5"),
    ("COMIRNATY", "コミナティ筋注", ("COVID-B",), PFIZER, "", "0.3"),
    ("SPIKEVAX", "スパイクバックス筋注", ("COVID-B",), MODERNA, "", "0.5"),
    ("DAICHIRONA", "ダイチロナ筋注", ("COVID-B",), DAIICHI, "", "0.6"),
    ("KOSTAIVE", "コスタイベ筋注用", ("COVID-B",), MEIJI, "", "0.5"),
    ("SHINGRIX", "シングリックス筋注用", ("HZ-B",), GSK, "RZV", "0.5"),
)  # fmt: skip

# Which product a synthetic dose of a vaccine uses (the first is the most common).
PREFERRED: dict[str, tuple[str, ...]] = {
    "HIB": ("ACTHIB",), "PCV": ("PCV20", "PCV15", "PCV13"), "HEPB": ("HEPB-MSD", "HEPB-KMB"), "ROTA": ("RV1", "RV5"),
    "DPT-IPV-HIB": ("GOBIK", "QUINTOVAC"), "DPT-IPV": ("TETRABIK", "QUATTROVAC", "SQUAREKIDS"), "BCG": ("BCG",),
    "MR1": ("MR-BIKEN", "MR-TAKEDA", "MR-DAIICHI"), "MR2": ("MR-BIKEN", "MR-TAKEDA", "MR-DAIICHI"),
    "VAR": ("VAR-BIKEN",), "JE1": ("JEBIK", "ENCEVAC"), "JE2": ("JEBIK", "ENCEVAC"), "DT": ("DTBIK",),
    "HPV": ("SILGARD9", "GARDASIL", "CERVARIX"), "FLU-B": ("FLU-BIKEN", "FLU-KMB", "FLU-DENKA", "FLU-DAIICHI"),
    "PPSV-B": ("PNEUMOVAX",), "COVID-B": ("COMIRNATY", "SPIKEVAX", "DAICHIRONA", "KOSTAIVE"),
    "HZ-B": ("SHINGRIX", "VAR-BIKEN"),
}  # fmt: skip

_WARDS = ("鶴見", "神奈川", "西", "中", "南", "港南", "保土ケ谷", "旭", "磯子", "金沢", "港北", "緑", "青葉", "都筑",
          "戸塚", "栄", "泉", "瀬谷")  # fmt: skip
_KINDS = (
    ("こどもクリニック", "コドモクリニック"), ("小児科", "ショウニカ"), ("内科クリニック", "ナイカクリニック"),
    ("ファミリークリニック", "ファミリークリニック"), ("医院", "イイン"), ("内科・小児科", "ナイカショウニカ"),
)  # fmt: skip
_NAMES = (
    ("さくら", "サクラ"), ("みなと", "ミナト"), ("あおば", "アオバ"), ("やまて", "ヤマテ"), ("かもめ", "カモメ"),
    ("ひかり", "ヒカリ"), ("いずみ", "イズミ"), ("たちばな", "タチバナ"), ("ふたば", "フタバ"),
    ("こすもす", "コスモス"), ("はまかぜ", "ハマカゼ"), ("のぞみ", "ノゾミ"),
)  # fmt: skip
CLINIC_COUNT = 36


def _luhn_like(d: str) -> int:
    # The last digit of a medical-institution number is a check digit (weights 2,1 from the right,
    # like the insurer numbers); synthetic codes carry one so they look like real ones.
    total = 0
    for k, ch in enumerate(reversed(d)):
        x = int(ch) * (2 if k % 2 == 0 else 1)
        total += x // 10 + x % 10
    return (10 - total % 10) % 10


def clinic_code(k: int) -> str:
    """The k-th demo clinic's code: 14 (神奈川) + 1 (医科) + 郡市区 2 + 番号 4 + check digit."""
    body = f"{(k % 18) + 1:02d}{1000 + 37 * k:04d}"
    return f"141{body}{_luhn_like(body)}"


def clinics(municipality: str = "141003") -> list[ClinicData]:
    out: list[ClinicData] = []
    for k in range(CLINIC_COUNT):
        ward = _WARDS[k % len(_WARDS)]
        nm, nk = _NAMES[k % len(_NAMES)]
        kind, kk = _KINDS[(k * 5) % len(_KINDS)]
        until = date(2024, 3, 31) if k == CLINIC_COUNT - 1 else None  # one contract ended (閉院)
        out.append(ClinicData(
            code=clinic_code(k), name=f"{nm}{kind}", name_kana=f"{nk}{kk}",
            postal_code=f"2{(k * 7) % 50 + 20:02d}{(k * 131) % 10000:04d}",
            address=f"神奈川県横浜市{ward}区{nm}町{k % 9 + 1}-{k % 17 + 1}",
            phone=f"045-{300 + k:03d}-{1000 + 7 * k:04d}",
            medical_association=f"横浜市{ward}区医師会", contracted_from=date(2013, 4, 1), contracted_until=until,
        ))
    return out


def products() -> list[ProductData]:
    return [ProductData(c, n, v, mk, sp, amt) for c, n, v, mk, sp, amt in PRODUCTS]


def lot_numbers(product_code: str) -> list[tuple[str, date]]:
    """Three lots per product per year 2015–2026 (expiring two years after release)."""
    prefix = "".join(ch for ch in product_code if ch.isalpha())[:2].upper()
    out = []
    for year in range(2015, 2027):
        for k in range(3):
            n = (sum(map(ord, product_code)) * 7 + year * 13 + k * 101) % 900 + 100
            out.append((f"{prefix}{year % 100:02d}{n:03d}{'ABC'[k]}", date(year + 2, 3 + 4 * k, 28)))
    return out


def lots() -> list[LotData]:
    return [LotData(p[0], lot, exp) for p in PRODUCTS for lot, exp in lot_numbers(p[0])]
