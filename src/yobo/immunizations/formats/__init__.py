"""File formats of dose records (接種記録のファイル形式): pure readers and writers, no Django.

- :mod:`.clinic_csv` — the clinic / medical-association CSV (医療機関・医師会 予診票データ),
  documented in ``docs/formats/clinic-csv.md``;
- :mod:`.vrs_csv` — the VRS CSV of CONTRACTS.md §5 (one row per person, dose columns n = 1..k);
- :mod:`.hl7_vxu` — HL7 v2.5.1 VXU^V04 (CDC immunization guide structure) and its ACK^V04.

Every reader turns its input into :class:`yobo.immunizations.inputs.DoseInput` values and reports
problems as :class:`yobo.core.problems.Problem` (file, row or segment/field, reason; never a My
Number). The readers check the *form* of each value; whether a dose makes sense for the person
(target, interval, duplicates, masters) is the validation of the ``immunizations`` core.
"""
