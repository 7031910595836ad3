"""The staff web shell: base templates, home page, shared UI pieces."""
