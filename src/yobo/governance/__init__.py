"""Retention and deletion, residents' requests (開示・訂正・利用停止), live PIA evidence."""
