"""redline: evaluation-first harness for function-calling language models."""

__version__ = "0.1.0"
