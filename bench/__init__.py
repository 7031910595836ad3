"""Benchmarks: `./dev bench [NAME ...] [--size N]` prints one JSON object per benchmark."""
