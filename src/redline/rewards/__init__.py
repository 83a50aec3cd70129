"""TRL-shaped reward functions built on the metrics' scorers (no second copy of a scoring rule).

Each reward here is ready for ``trl.GRPOTrainer(reward_funcs=[...])``; the dataset columns they
read are listed in ``COLUMNS``. Build variants with ``make_reward(name, fmt=...)`` and
``make_composite(spec)``; check any reward function with ``redline.rewards.testing``.
"""

from redline.parsing import detect_format
from redline.rewards.functions import (
    COLUMNS,
    DEFAULT_SPEC,
    REWARD_NAMES,
    RewardFunction,
    completion_of,
    load_spec,
    make_composite,
    make_reward,
)

parse = make_reward("parse")
schema_hit = make_reward("schema_hit")
exec = make_reward("exec")  # noqa: A001 - the reward's name in TRL logs and in specs
semantic_f1 = make_reward("semantic_f1")
ast_match = make_reward("ast_match")
format_strict = make_reward("format_strict")
abstain = make_reward("abstain")
toolrl = make_reward("toolrl")
composite = make_composite()

REWARDS = {
    "parse": parse,
    "schema_hit": schema_hit,
    "exec": exec,
    "semantic_f1": semantic_f1,
    "ast_match": ast_match,
    "format_strict": format_strict,
    "abstain": abstain,
    "toolrl": toolrl,
    "composite": composite,
}

__all__ = [
    "COLUMNS",
    "DEFAULT_SPEC",
    "REWARDS",
    "REWARD_NAMES",
    "RewardFunction",
    "abstain",
    "ast_match",
    "completion_of",
    "composite",
    "detect_format",
    "exec",
    "format_strict",
    "load_spec",
    "make_composite",
    "make_reward",
    "parse",
    "schema_hit",
    "semantic_f1",
    "toolrl",
]
