"""Health-damage relief claims and benefits (予防接種健康被害救済給付)."""
