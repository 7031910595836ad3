"""The access log (アクセスログ): append-only, hash-chained, signed checkpoints, verification, review."""
