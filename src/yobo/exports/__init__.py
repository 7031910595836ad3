"""Approved exports of personal data (外部媒体への出力) and the media log (媒体管理簿)."""
