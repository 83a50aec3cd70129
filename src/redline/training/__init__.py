"""Thin TRL/PEFT clients and the gate callback (evaluation goes through the harness)."""
