"""TRL-shaped reward functions built on the metrics' scorers (no second copy of a scoring rule)."""
