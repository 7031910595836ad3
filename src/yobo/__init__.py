"""yobo (予防): an immunization registry for Japanese municipalities."""

__version__ = "0.1.0"
