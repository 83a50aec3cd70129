"""Model backends, prompt modes, output parsers, the runner and run folders (no scoring rules)."""
