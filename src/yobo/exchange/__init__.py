"""Intermediary-server link (中間サーバー): copies (副本), queries, provision; and the local hub."""
