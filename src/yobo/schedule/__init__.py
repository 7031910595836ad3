"""The routine-immunization schedule engine (定期接種スケジュール). Pure Python: no Django."""
