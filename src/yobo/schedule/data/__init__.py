"""Schedule data files, one TOML per series (a package so the files ship in the wheel)."""
