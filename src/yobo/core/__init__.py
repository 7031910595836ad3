"""Shared kernel (共通基盤). Pure Python: no Django, no personal data.

Holds the access context and purpose codes (処理事由) that every door checks, the error types,
and the small text and date helpers every app shares.
"""
