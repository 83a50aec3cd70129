"""General-data replay for SFT: a small share of plain requests (no tools offered) answered the
way the starting model answers them, so that fine-tuning on function calls does not teach the
model to treat every request as one (the seed's "通用保形" set, 1-5% of the SFT mix).

Prompts come from a seeded built-in generator or from a JSON-lines file; a prompt given without
a response is answered by a model (``--general-model``, usually the base model itself: this is
self-distillation, so the replayed answers are what the model already says).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from redline.records import Sample

# Authored templates and subjects, kept apart from the regression set's (topics, instructions):
# these ask for ordinary answers with no checkable constraint.
_TEMPLATES = (
    "Explain {subject} to someone who has never heard of it.",
    "What are three practical tips about {subject}?",
    "Write a short friendly paragraph about {subject}.",
    "Why do people care about {subject}? Answer briefly.",
    "Give me a simple example that shows how {subject} works.",
    "What is a common misunderstanding about {subject}?",
)
_SUBJECTS = (
    "compound interest",
    "photosynthesis",
    "keeping houseplants alive",
    "the water cycle",
    "writing a cover letter",
    "learning a second language",
    "how vaccines train the immune system",
    "recycling plastic",
    "planning a weekly budget",
    "the rules of chess",
    "sourdough bread",
    "time zones",
    "how a refrigerator keeps food cold",
    "migrating birds",
    "volcanoes",
    "saving energy at home",
    "public speaking",
    "the moon's phases",
    "composting kitchen scraps",
    "how email gets delivered",
    "stretching before exercise",
    "reading a nutrition label",
    "the first aid for a small burn",
    "choosing a password",
)


@dataclass(frozen=True)
class GeneralPrompt:
    id: str
    prompt: str
    response: str | None = None


class GeneralDataError(ValueError):
    """A general-data file cannot be used; the message names the file and line."""


def builtin_prompts(seed: int = 0) -> list[GeneralPrompt]:
    """Every template x subject pair (144 prompts), in a seeded order."""
    pairs = [(t, s) for t in _TEMPLATES for s in _SUBJECTS]
    random.Random(seed).shuffle(pairs)
    return [
        GeneralPrompt(id=f"general_{i:03d}", prompt=t.format(subject=s))
        for i, (t, s) in enumerate(pairs)
    ]


def read_general_file(path: str | Path) -> list[GeneralPrompt]:
    """JSON lines, each ``{"prompt": TEXT}`` with an optional ``"response": TEXT``."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GeneralDataError(f"cannot read general data {path}: {exc}") from exc
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GeneralDataError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise GeneralDataError(f"{where}: expected an object with a 'prompt'")
        prompt, response = row.get("prompt"), row.get("response")
        if not isinstance(prompt, str) or not prompt.strip():
            raise GeneralDataError(f"{where}: 'prompt' must be non-empty text")
        if response is not None and (not isinstance(response, str) or not response.strip()):
            raise GeneralDataError(f"{where}: 'response' must be non-empty text when given")
        ident = str(row.get("id", f"{path.stem}_{number}"))
        out.append(GeneralPrompt(id=ident, prompt=prompt, response=response))
    if not out:
        raise GeneralDataError(f"{path} holds no general prompts")
    return out


def read_general(source: str, seed: int = 0) -> list[GeneralPrompt]:
    """``builtin`` or a JSON-lines file (see read_general_file)."""
    if source == "builtin":
        return builtin_prompts(seed)
    if not Path(source).is_file():
        raise GeneralDataError(f"general data {source!r} is neither builtin nor an existing file")
    return read_general_file(source)


def general_sample(item: GeneralPrompt, response: str) -> Sample:
    """A replay item: a plain request with no tools, answered in free text (``reference``)."""
    return Sample(
        id=item.id,
        messages=[{"role": "user", "content": item.prompt}],
        tools=[],
        expect="answer",
        category="general",
        metadata={"reference": response},
    )


Answerer = Callable[[Sequence[Sample]], list[str]]


def model_answerer(
    spec: str, max_new_tokens: int = 160, batch_size: int = 16, progress: bool = True
) -> Answerer:
    """Answers prompts with the model ``spec`` names (greedy), in batches."""
    from redline.harness.backends import make_backend
    from redline.harness.models import Sampling

    backend = make_backend(spec, "json", Sampling(max_new_tokens=max_new_tokens))

    def answer(samples: Sequence[Sample]) -> list[str]:
        from rich.progress import Progress

        texts: list[str] = []
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task(f"answering general prompts with {spec}", total=len(samples))
            for start in range(0, len(samples), max(1, batch_size)):
                chunk = samples[start : start + batch_size]
                texts += [c.raw.strip() for c in backend.complete(chunk, "json")]
                bar.update(task, advance=len(chunk))
        return texts

    return answer


def replay_samples(
    items: Sequence[GeneralPrompt], answerer: Answerer | None, where: str
) -> tuple[list[Sample], list[str]]:
    """Samples for ``items``; those without a response are answered by ``answerer``. Returns
    (samples, the ids left out because the answer was empty). Raises when a response is needed
    and no model was named."""
    missing = [i for i in items if i.response is None]
    if missing and answerer is None:
        raise GeneralDataError(
            f"{len(missing)} general prompts from {where} have no response: name a model to "
            "answer them (--general-model, e.g. the base model) or give 'response' in the file"
        )
    answers = dict(
        zip(
            (i.id for i in missing),
            answerer([general_sample(i, "") for i in missing]) if missing else [],
            strict=True,
        )
    )
    samples: list[Sample] = []
    empty: list[str] = []
    for item in items:
        response = item.response if item.response is not None else answers[item.id]
        if not response:
            empty.append(item.id)
            continue
        samples.append(general_sample(item, response))
    return samples, empty
