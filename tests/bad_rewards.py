"""Deliberately bad reward functions: the battery in redline.rewards.testing must catch each."""

from __future__ import annotations

import json

from redline.parsing import parse
from redline.rewards import REWARDS


def substring(prompts, completions, **columns):
    """1 when every expected function name appears somewhere in the text: gameable."""
    out = []
    for text, answers in zip(completions, columns["answers"], strict=True):
        names = [a["name"] for a in json.loads(answers)]
        out.append(1.0 if all(n in text for n in names) else 0.0)
    return out


def count_calls(prompts, completions, **columns):
    """More call-looking things, more reward: rewards spamming calls."""
    return [float(t.count('"name"') + t.count("<tool_call>") + t.count("(")) for t in completions]


def raises(prompts, completions, **columns):
    """Crashes on every completion."""
    return [1 / 0 for _ in completions]


def first_row_only(prompts, completions, **columns):
    """1 when the calls name the answer's functions, but every completion of a batch is held
    to the first row's answer: right for a batch of one, wrong for TRL's batches, which mix
    prompts."""
    names = sorted(a["name"] for a in json.loads(columns["answers"][0]))
    return [
        1.0 if sorted(c.name for c in parse(text, "auto").calls) == names else 0.0
        for text in completions
    ]


def one_reward(prompts, completions, **columns):
    """Always one reward, however many completions it is given."""
    return [0.0]


def nothing(prompts, completions, **columns):
    """None for every completion: TRL leaves each out, so it trains nothing."""
    return [None for _ in completions]


def mentions_name(prompts, completions, **columns):
    """1 when the text holds the substring `"name"`: blind to what the call means."""
    return [1.0 if '"name"' in text else 0.0 for text in completions]


def messages_only(prompts, completions, **columns):
    """Reads each completion as TRL's list of messages: raises on plain text."""
    texts = [completion[-1]["content"] for completion in completions]
    return REWARDS["composite"](prompts=prompts, completions=texts, **columns)
