"""Exporters: a Trace written in the formats other tools read (Chrome trace JSON, CSV, images)."""
