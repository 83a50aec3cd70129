"""Reasoning in model output: ``<think>`` blocks split from the text that carries the calls.

Shared by every format's parser and by the scorers; it knows nothing of calls.
"""

from __future__ import annotations

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def strip_reasoning(text: str) -> tuple[str | None, str]:
    """Split ``<think>`` blocks out of ``text``: ``(reasoning or None, remaining text)``.

    An unclosed ``<think>`` swallows the rest of the text (the model ran out of tokens while
    thinking). A ``</think>`` before any ``<think>`` closes reasoning that the chat template
    opened in the prompt, so everything before it is reasoning. Several blocks are joined with a
    blank line; the remaining text is the outside pieces joined as they were, then stripped.
    """
    if "think>" not in text:  # most outputs: no tag of either kind
        return None, text.strip()
    reasoning: list[str] = []
    outside: list[str] = []
    pos = 0
    first_close = text.find(THINK_CLOSE)
    first_open = text.find(THINK_OPEN)
    if first_close != -1 and (first_open == -1 or first_close < first_open):
        reasoning.append(text[:first_close])
        pos = first_close + len(THINK_CLOSE)
    while True:
        start = text.find(THINK_OPEN, pos)
        if start == -1:
            outside.append(text[pos:])
            break
        outside.append(text[pos:start])
        body = start + len(THINK_OPEN)
        end = text.find(THINK_CLOSE, body)
        if end == -1:
            reasoning.append(text[body:])
            break
        reasoning.append(text[body:end])
        pos = end + len(THINK_CLOSE)
    parts = [r.strip() for r in reasoning if r.strip()]
    return ("\n\n".join(parts) if parts else None), "".join(outside).strip()
