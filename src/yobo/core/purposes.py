"""Purpose codes (処理事由), duties (職責) and operations, and the policy that binds them.

The policy is data kept in code so that it is reviewed like code and printed into the PIA report:
which duty may act under which purpose, and which operations each purpose allows. A city adds
duties by giving staff several of them; it does not edit this table at run time.
"""

from __future__ import annotations

from enum import StrEnum


class Operation(StrEnum):
    """What was done to personal data (操作)."""

    SEARCH = "search"  # 検索
    READ = "read"  # 参照
    CREATE = "create"  # 登録
    UPDATE = "update"  # 更新
    DELETE = "delete"  # 削除
    ISSUE = "issue"  # 発行 (vouchers, certificates)
    EXPORT = "export"  # 外部出力
    REVEAL_MYNUMBER = "reveal_mynumber"  # 個人番号の表示
    BATCH = "batch"  # 一括処理
    LOGIN = "login"  # ログイン
    LOGOUT = "logout"  # ログアウト
    ADMIN = "admin"  # 職員・端末の管理


OPERATION_LABELS: dict[Operation, str] = {
    Operation.SEARCH: "検索",
    Operation.READ: "参照",
    Operation.CREATE: "登録",
    Operation.UPDATE: "更新",
    Operation.DELETE: "削除",
    Operation.ISSUE: "発行",
    Operation.EXPORT: "外部出力",
    Operation.REVEAL_MYNUMBER: "個人番号表示",
    Operation.BATCH: "一括処理",
    Operation.LOGIN: "ログイン",
    Operation.LOGOUT: "ログアウト",
    Operation.ADMIN: "管理",
}


class Result(StrEnum):
    """Outcome recorded in the access log (結果)."""

    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"  # e.g. wrong password or code
    ERROR = "error"  # the work raised; nothing was applied


class Purpose(StrEnum):
    """処理事由: why personal data is touched. Codes are stable; they appear in the access log."""

    ADMINISTRATION = "A01"  # 職員・端末・権限の管理
    AUDIT_REVIEW = "A02"  # アクセスログの点検・監査
    AUTHENTICATION = "A03"  # ログイン・本人認証
    RESIDENT_SYNC = "P01"  # 住民記録の連携 (日次)
    PERSON_INQUIRY = "P02"  # 対象者の照会 (窓口・電話)
    NONRESIDENT_REGISTRATION = "P03"  # 住登外者の登録
    PROTECTION_MEASURE = "P04"  # 支援措置 (DV等) の設定
    MYNUMBER_REGISTRATION = "M01"  # 個人番号の登録・番号確認
    MYNUMBER_MAINTENANCE = "M02"  # 個人番号の鍵更新・索引再作成
    DOSE_ENTRY = "V01"  # 予診票の入力 (接種記録)
    DOSE_IMPORT = "V02"  # 接種記録の取込 (VRS, 医師会)
    VRS_MATCHING = "V03"  # VRSデータとの照合
    TARGET_EXTRACTION = "N01"  # 対象者抽出
    VOUCHER_ISSUANCE = "N02"  # 接種券・予診票の発行
    RECOMMENDATION = "N03"  # 接種勧奨
    CERTIFICATE_ISSUANCE = "C01"  # 接種証明書の交付
    FEE_EXEMPTION = "F01"  # 実費徴収の免除判定
    CLINIC_PAYMENT = "F02"  # 接種委託料の支払
    RELIEF = "R01"  # 健康被害救済給付
    EXCHANGE_QUERY = "X01"  # 情報照会 (中間サーバー)
    EXCHANGE_PROVISION = "X02"  # 情報提供
    COPY_REGISTRATION = "X03"  # 副本登録
    DISCLOSURE_REQUEST = "G01"  # 開示・訂正・利用停止請求への対応
    RETENTION = "G02"  # 保存期間満了による削除
    EXPORT = "G03"  # 外部媒体への出力 (承認済み)
    STATISTICS = "S01"  # 統計 (個人を識別しない)


PURPOSE_LABELS: dict[Purpose, str] = {
    Purpose.ADMINISTRATION: "職員・端末・権限の管理",
    Purpose.AUDIT_REVIEW: "アクセスログの点検・監査",
    Purpose.AUTHENTICATION: "ログイン・本人認証",
    Purpose.RESIDENT_SYNC: "住民記録の連携",
    Purpose.PERSON_INQUIRY: "対象者の照会",
    Purpose.NONRESIDENT_REGISTRATION: "住登外者の登録",
    Purpose.PROTECTION_MEASURE: "支援措置の設定",
    Purpose.MYNUMBER_REGISTRATION: "個人番号の登録・番号確認",
    Purpose.MYNUMBER_MAINTENANCE: "個人番号の鍵更新",
    Purpose.DOSE_ENTRY: "予診票の入力",
    Purpose.DOSE_IMPORT: "接種記録の取込",
    Purpose.VRS_MATCHING: "VRSデータとの照合",
    Purpose.TARGET_EXTRACTION: "対象者抽出",
    Purpose.VOUCHER_ISSUANCE: "接種券・予診票の発行",
    Purpose.RECOMMENDATION: "接種勧奨",
    Purpose.CERTIFICATE_ISSUANCE: "接種証明書の交付",
    Purpose.FEE_EXEMPTION: "実費徴収の免除判定",
    Purpose.CLINIC_PAYMENT: "接種委託料の支払",
    Purpose.RELIEF: "健康被害救済給付",
    Purpose.EXCHANGE_QUERY: "情報照会",
    Purpose.EXCHANGE_PROVISION: "情報提供",
    Purpose.COPY_REGISTRATION: "副本登録",
    Purpose.DISCLOSURE_REQUEST: "開示・訂正・利用停止請求への対応",
    Purpose.RETENTION: "保存期間満了による削除",
    Purpose.EXPORT: "外部媒体への出力",
    Purpose.STATISTICS: "統計",
}


class Duty(StrEnum):
    """職責: the duty a role stands for. Staff may hold several."""

    ADMIN = "admin"  # システム管理者
    AUDITOR = "auditor"  # 監査・点検担当
    CLERK = "clerk"  # 予防接種事務担当
    ENTRY = "entry"  # 予診票入力担当
    CERTIFICATE = "certificate"  # 証明書交付担当
    PAYMENT = "payment"  # 委託料・実費徴収担当
    RELIEF = "relief"  # 健康被害救済担当
    EXCHANGE = "exchange"  # 情報連携担当
    SUPERVISOR = "supervisor"  # 決裁者 (承認)
    CONTRACTOR_ENTRY = "contractor_entry"  # 委託先入力作業者 (最小権限)


DUTY_LABELS: dict[Duty, str] = {
    Duty.ADMIN: "システム管理者",
    Duty.AUDITOR: "監査・点検担当",
    Duty.CLERK: "予防接種事務担当",
    Duty.ENTRY: "予診票入力担当",
    Duty.CERTIFICATE: "証明書交付担当",
    Duty.PAYMENT: "委託料・実費徴収担当",
    Duty.RELIEF: "健康被害救済担当",
    Duty.EXCHANGE: "情報連携担当",
    Duty.SUPERVISOR: "決裁者",
    Duty.CONTRACTOR_ENTRY: "委託先入力作業者",
}

P = Purpose
DUTY_PURPOSES: dict[Duty, frozenset[Purpose]] = {
    Duty.ADMIN: frozenset(Purpose),
    Duty.AUDITOR: frozenset({P.AUDIT_REVIEW, P.STATISTICS}),
    Duty.CLERK: frozenset(
        {
            P.RESIDENT_SYNC, P.PERSON_INQUIRY, P.NONRESIDENT_REGISTRATION, P.PROTECTION_MEASURE,
            P.MYNUMBER_REGISTRATION, P.DOSE_ENTRY, P.DOSE_IMPORT, P.VRS_MATCHING,
            P.TARGET_EXTRACTION, P.VOUCHER_ISSUANCE, P.RECOMMENDATION, P.CERTIFICATE_ISSUANCE,
            P.DISCLOSURE_REQUEST, P.EXPORT, P.STATISTICS,
        }
    ),
    Duty.ENTRY: frozenset({P.PERSON_INQUIRY, P.DOSE_ENTRY, P.DOSE_IMPORT}),
    Duty.CERTIFICATE: frozenset({P.PERSON_INQUIRY, P.CERTIFICATE_ISSUANCE}),
    Duty.PAYMENT: frozenset({P.PERSON_INQUIRY, P.FEE_EXEMPTION, P.CLINIC_PAYMENT, P.STATISTICS}),
    Duty.RELIEF: frozenset({P.PERSON_INQUIRY, P.RELIEF}),
    Duty.EXCHANGE: frozenset({P.PERSON_INQUIRY, P.EXCHANGE_QUERY, P.EXCHANGE_PROVISION, P.COPY_REGISTRATION}),
    Duty.SUPERVISOR: frozenset(
        {P.PERSON_INQUIRY, P.NONRESIDENT_REGISTRATION, P.PROTECTION_MEASURE, P.EXPORT, P.RETENTION}
    ),
    Duty.CONTRACTOR_ENTRY: frozenset({P.DOSE_ENTRY}),
}

# Operations each purpose allows. Reading, searching and the plain writes are common; issuing,
# exporting, revealing a My Number and administration are allowed only where they belong.
_COMMON = frozenset({Operation.SEARCH, Operation.READ})
_WRITE = frozenset({Operation.CREATE, Operation.UPDATE})
Op = Operation
PURPOSE_OPERATIONS: dict[Purpose, frozenset[Operation]] = {
    P.ADMINISTRATION: _COMMON | _WRITE | {Op.ADMIN, Op.DELETE},
    P.AUDIT_REVIEW: _COMMON | {Op.BATCH, Op.CREATE},  # CREATE: 自己点検の結果を記録する
    P.AUTHENTICATION: frozenset({Op.LOGIN, Op.LOGOUT}),
    P.RESIDENT_SYNC: _COMMON | _WRITE | {Op.BATCH},
    P.PERSON_INQUIRY: _COMMON | {Op.REVEAL_MYNUMBER},
    # BATCH: the periodic 住基ネット check of the 住登外者 (people.jukinet) and its query file.
    P.NONRESIDENT_REGISTRATION: _COMMON | _WRITE | {Op.REVEAL_MYNUMBER, Op.BATCH},
    P.PROTECTION_MEASURE: _COMMON | _WRITE,
    P.MYNUMBER_REGISTRATION: _COMMON | _WRITE | {Op.REVEAL_MYNUMBER},
    P.MYNUMBER_MAINTENANCE: _COMMON | {Op.BATCH},
    P.DOSE_ENTRY: _COMMON | _WRITE,
    P.DOSE_IMPORT: _COMMON | _WRITE | {Op.BATCH},
    P.VRS_MATCHING: _COMMON | _WRITE | {Op.BATCH},
    P.TARGET_EXTRACTION: _COMMON | {Op.BATCH, Op.CREATE},
    P.VOUCHER_ISSUANCE: _COMMON | _WRITE | {Op.ISSUE, Op.BATCH},
    P.RECOMMENDATION: _COMMON | _WRITE | {Op.ISSUE, Op.BATCH},
    P.CERTIFICATE_ISSUANCE: _COMMON | _WRITE | {Op.ISSUE, Op.REVEAL_MYNUMBER},
    P.FEE_EXEMPTION: _COMMON | _WRITE | {Op.ISSUE},
    P.CLINIC_PAYMENT: _COMMON | _WRITE | {Op.BATCH},
    P.RELIEF: _COMMON | _WRITE,
    P.EXCHANGE_QUERY: _COMMON | _WRITE,
    P.EXCHANGE_PROVISION: _COMMON | _WRITE | {Op.BATCH},
    P.COPY_REGISTRATION: _COMMON | {Op.BATCH},
    P.DISCLOSURE_REQUEST: _COMMON | _WRITE | {Op.EXPORT},
    P.RETENTION: _COMMON | _WRITE | {Op.DELETE, Op.BATCH},  # writes: 削除計画の作成・承認
    P.EXPORT: _COMMON | _WRITE | {Op.EXPORT},  # writes: 申請・承認・消去確認
    P.STATISTICS: frozenset({Op.BATCH}),
}
del P, Op


def parse_purpose(code: str | None) -> Purpose | None:
    """The purpose for a code (or its name), or None when unknown or empty."""
    if not code:
        return None
    try:
        return Purpose(code.strip().upper())
    except ValueError:
        try:
            return Purpose[code.strip().upper().replace("-", "_")]
        except KeyError:
            return None
