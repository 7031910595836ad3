"""People (宛名): persons, households, addresses and the resident-register sync.

For now only the pure, Django-free parts live here: ``extract`` (reading and validating the
resident-register extract) and ``synth`` (the synthetic city).
"""
