"""Deterministic synthetic demo data (every record ``is_synthetic=True``); see docs/demo-data.md."""
