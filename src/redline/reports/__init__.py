"""Static reports and the error explorer, reading run folders (no score computation)."""
