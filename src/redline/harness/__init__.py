"""Model backends, prompt modes, the runner and run folders (no scoring rules, no suites)."""
