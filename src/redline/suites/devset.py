"""The offline function-calling dev set: tools, requests and gold calls from a seeded generator,
so the embedded model has something to run on with no network.

Single calls, parallel calls (two requests in one message) and irrelevance items (no offered
tool fits). Same seed, same samples. Generation of model outputs happens elsewhere.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redline.records import Sample, ToolCall, ToolSpec

VERSION = "1"


@dataclass(frozen=True)
class _Template:
    tool: dict[str, Any]
    requests: tuple[str, ...]  # str.format templates over the slot names
    slots: dict[str, tuple[Any, ...]]


def _tool(
    name: str, description: str, props: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "parameters": {"type": "object", "properties": props, "required": required},
    }


_CITIES = ("Paris", "Tokyo", "Nairobi", "Lima", "Oslo", "Toronto", "Mumbai", "Sydney")
TEMPLATES: tuple[_Template, ...] = (
    _Template(
        _tool(
            "get_weather",
            "Current weather for a city.",
            {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            ["city"],
        ),
        (
            "What's the weather in {city} in {unit}?",
            "Tell me the weather in {city}, {unit} please.",
        ),
        {"city": _CITIES, "unit": ("celsius", "fahrenheit")},
    ),
    _Template(
        _tool(
            "convert_currency",
            "Convert an amount between currencies.",
            {
                "amount": {"type": "number"},
                "from_currency": {"type": "string", "description": "ISO code"},
                "to_currency": {"type": "string", "description": "ISO code"},
            },
            ["amount", "from_currency", "to_currency"],
        ),
        (
            "Convert {amount} {from_currency} to {to_currency}.",
            "How much is {amount} {from_currency} in {to_currency}?",
        ),
        {
            "amount": (10, 25.5, 100, 250, 1200),
            "from_currency": ("USD", "EUR", "JPY"),
            "to_currency": ("GBP", "CHF", "INR"),
        },
    ),
    _Template(
        _tool(
            "create_event",
            "Add an event to the calendar.",
            {
                "title": {"type": "string"},
                "date": {"type": "string", "description": "YYYY-MM-DD"},
                "duration_minutes": {"type": "integer"},
            },
            ["title", "date"],
        ),
        (
            "Put '{title}' in my calendar on {date} for {duration_minutes} minutes.",
            "Schedule {title} on {date}, {duration_minutes} minutes long.",
        ),
        {
            "title": ("team sync", "dentist", "budget review", "yoga class"),
            "date": ("2025-03-14", "2025-07-01", "2025-11-20"),
            "duration_minutes": (30, 45, 60, 90),
        },
    ),
    _Template(
        _tool(
            "search_flights",
            "Find flights between two airports.",
            {
                "origin": {"type": "string", "description": "IATA code"},
                "destination": {"type": "string", "description": "IATA code"},
                "date": {"type": "string", "description": "YYYY-MM-DD"},
                "passengers": {"type": "integer"},
            },
            ["origin", "destination", "date"],
        ),
        (
            "Find flights from {origin} to {destination} on {date} for {passengers} people.",
            "I need {passengers} seats {origin} to {destination} on {date}.",
        ),
        {
            "origin": ("JFK", "CDG", "NRT"),
            "destination": ("LHR", "SFO", "SYD"),
            "date": ("2025-05-02", "2025-08-19"),
            "passengers": (1, 2, 4),
        },
    ),
    _Template(
        _tool(
            "send_email",
            "Send an email.",
            {
                "to": {"type": "string"},
                "subject": {"type": "string"},
                "urgent": {"type": "boolean"},
            },
            ["to", "subject"],
        ),
        (
            "Email {to} with the subject '{subject}', urgent: {urgent}.",
            "Send an email to {to} titled '{subject}' (urgent: {urgent}).",
        ),
        {
            "to": ("ana@example.com", "li@example.org", "sam@example.net"),
            "subject": ("Quarterly report", "Lunch on Friday", "Server outage"),
            "urgent": (True, False),
        },
    ),
    _Template(
        _tool(
            "get_stock_price",
            "Latest price of a stock.",
            {
                "symbol": {"type": "string"},
                "exchange": {"type": "string", "enum": ["NASDAQ", "NYSE", "LSE"]},
            },
            ["symbol"],
        ),
        (
            "What is {symbol} trading at on the {exchange}?",
            "Price of {symbol} on {exchange}, please.",
        ),
        {"symbol": ("AAPL", "MSFT", "VOD", "IBM"), "exchange": ("NASDAQ", "NYSE", "LSE")},
    ),
    _Template(
        _tool(
            "convert_units",
            "Convert a quantity between units.",
            {
                "value": {"type": "number"},
                "from_unit": {"type": "string"},
                "to_unit": {"type": "string"},
            },
            ["value", "from_unit", "to_unit"],
        ),
        ("Convert {value} {from_unit} to {to_unit}.", "How many {to_unit} is {value} {from_unit}?"),
        {
            "value": (3, 12.5, 42, 100),
            "from_unit": ("miles", "pounds", "liters"),
            "to_unit": ("kilometers", "kilograms", "gallons"),
        },
    ),
    _Template(
        _tool(
            "translate_text",
            "Translate text into another language.",
            {"text": {"type": "string"}, "target_language": {"type": "string"}},
            ["text", "target_language"],
        ),
        (
            "Translate '{text}' into {target_language}.",
            "How do you say '{text}' in {target_language}?",
        ),
        {
            "text": ("good morning", "where is the station", "thank you very much"),
            "target_language": ("French", "Japanese", "Swahili"),
        },
    ),
)
UNRELATED = (
    "Tell me a joke about penguins.",
    "Write a haiku about autumn.",
    "Who wrote Pride and Prejudice?",
    "Explain what a prime number is.",
    "Give me three tips for sleeping better.",
    "What does 'carpe diem' mean?",
)


def _call(template: _Template, rng: random.Random) -> tuple[str, ToolCall]:
    values = {name: rng.choice(options) for name, options in template.slots.items()}
    text = rng.choice(template.requests).format(**values)
    return text, ToolCall(name=template.tool["name"], arguments=values)


def _generate(
    n: int,
    seed: int,
    prefix: str,
    unrelated: tuple[str, ...],
    join: Callable[[str, str], str],
    wrappers: tuple[str, ...] | None = None,
    width: int = 4,
) -> list[Sample]:
    """The generator both sets share; the draws happen in a fixed order, so a seed pins the
    set (``wrappers`` adds one draw per item, after the tools)."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        kind = rng.choices(["single", "parallel", "irrelevance"], weights=[70, 15, 15])[0]
        offered = rng.sample(TEMPLATES, k=rng.randint(1, 3))
        tools = [ToolSpec.model_validate(t.tool) for t in offered]
        wrapper = rng.choice(wrappers) if wrappers else "{}"
        if kind == "irrelevance":
            text, expected = rng.choice(unrelated), []
        elif kind == "parallel":
            first, first_call = _call(offered[0], rng)
            second, second_call = _call(offered[-1], rng)
            text, expected = join(first, second), [first_call, second_call]
        else:
            text, call = _call(offered[0], rng)
            expected = [call]
        samples.append(
            Sample(
                id=f"{prefix}_{i:0{width}d}",
                messages=[{"role": "user", "content": wrapper.format(text)}],
                tools=tools,
                expect="calls" if expected else "no_call",
                expected=expected or None,
                category=f"{prefix}_{kind}",
            )
        )
    return samples


def generate_dev_set(n: int = 240, seed: int = 0) -> list[Sample]:
    """``n`` samples: about 70% single calls, 15% parallel pairs, 15% irrelevance."""
    return _generate(n, seed, "dev", UNRELATED, lambda first, second: f"{first} Also: {second}")


# Training-only wrappers around the dev set's requests: the built-in training set shares the
# dev set's tools and slot values, but its requests are worded differently, and any request
# that still matches an evaluation prompt is dropped by ``redline data prepare``.
TRAIN_WRAPPERS = (
    "{}",
    "Hi! {}",
    "Quick question: {}",
    "{} Thanks.",
    "Could you help me? {}",
    "Please do this for me: {}",
    "{} Cheers!",
)
TRAIN_UNRELATED = (
    "Summarise the plot of Hamlet in two sentences.",
    "What is the capital of Canada?",
    "Give me a synonym for 'happy'.",
    "How do I boil an egg?",
    "Recommend a good science fiction novel.",
    "Why is the sky blue?",
    "Write a limerick about a cat.",
    "What is 15% of 80?",
)


def generate_train_set(n: int = 1200, seed: int = 1) -> list[Sample]:
    """``n`` training samples from the dev set's tools: same mix of single, parallel and
    irrelevance items, with training-only wording. Ids start with ``train_``."""
    return _generate(
        n,
        seed,
        "train",
        TRAIN_UNRELATED + UNRELATED,
        lambda first, second: f"{first} And also {second[0].lower()}{second[1:]}",
        TRAIN_WRAPPERS,
        width=5,
    )
