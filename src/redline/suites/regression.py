"""The regression set's cheap online signal: the mean per-token KL divergence between a policy
and its reference model on reference completions, computed without generating anything.

Forgetting tracks this KL, so a training loop can log it at every gate check. Only forward
passes here; the regression items themselves are loaded elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from redline.records import Sample


def kl_probe(
    policy: Any,
    reference: Any,
    prompts: Sequence[tuple[str, str]],
    tokenizer: Any,
    batch_size: int = 8,
) -> float:
    """Mean over completion tokens of KL(policy || reference) of the next-token distributions.

    ``prompts`` holds (prompt text, reference completion) pairs, e.g. the regression prompts
    with the baseline model's answers; only the completion's tokens are scored. Both models
    must share ``tokenizer``'s vocabulary.
    """
    import torch
    import torch.nn.functional as F

    if not prompts:
        return float("nan")
    device = next(policy.parameters()).device
    total, count = 0.0, 0
    was_training = (policy.training, reference.training)
    policy.eval()
    reference.eval()
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            ids, masks = [], []
            for prompt, completion in chunk:
                head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
                tail = tokenizer(completion, add_special_tokens=False)["input_ids"]
                ids.append(head + tail)
                # Position t predicts token t+1: score the positions that predict the completion.
                mask = [0] * (len(head) + len(tail))
                for t in range(max(len(head) - 1, 0), len(head) + len(tail) - 1):
                    mask[t] = 1
                masks.append(mask)
            width = max(len(x) for x in ids)
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
            input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in ids], device=device)
            attention = torch.tensor(
                [[1] * len(x) + [0] * (width - len(x)) for x in ids], device=device
            )
            scored = torch.tensor([m + [0] * (width - len(m)) for m in masks], device=device).bool()
            with torch.inference_mode():
                log_p = F.log_softmax(
                    policy(input_ids=input_ids, attention_mask=attention).logits.float(), -1
                )
                log_q = F.log_softmax(
                    reference(input_ids=input_ids, attention_mask=attention).logits.float(), -1
                )
            per_token = (log_p.exp() * (log_p - log_q)).sum(-1)
            total += float(per_token[scored].sum())
            count += int(scored.sum())
    finally:
        policy.train(was_training[0])
        reference.train(was_training[1])
    return total / count if count else float("nan")


# --- the regression items ------------------------------------------------------------------------
#
# General-capability items, every one checked by code (redline.metrics.checks): instruction
# following with IFEval's checkers, format stability, short-answer knowledge, arithmetic, and
# Chinese. A seeded generator over authored templates; same seed, same items.

ITEMS_VERSION = "1"

_TOPICS = (
    "the ocean",
    "a city at night",
    "learning to cook",
    "the history of tea",
    "bicycles",
    "winter mornings",
    "public libraries",
    "honeybees",
    "a long train ride",
    "mountain hiking",
)
# (instruction text, IFEval instruction id, kwargs)
_INSTRUCTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("Your whole answer must be in lowercase letters only.", "change_case:english_lowercase", {}),
    ("Write your whole answer in capital letters.", "change_case:english_capital", {}),
    ("Do not use any commas in your answer.", "punctuation:no_comma", {}),
    ("Include the word 'lantern' in your answer.", "keywords:existence", {"keywords": ["lantern"]}),
    (
        "Do not use the words 'very' or 'really'.",
        "keywords:forbidden_words",
        {"forbidden_words": ["very", "really"]},
    ),
    (
        "Answer in at least 60 words.",
        "length_constraints:number_words",
        {"num_words": 60, "relation": "at least"},
    ),
    (
        "Answer in fewer than 40 words.",
        "length_constraints:number_words",
        {"num_words": 40, "relation": "less than"},
    ),
    (
        "End your answer with the exact phrase 'Is there anything else I can help with?'",
        "startend:end_checker",
        {"end_phrase": "Is there anything else I can help with?"},
    ),
    ("Wrap your entire answer in double quotation marks.", "startend:quotation", {}),
    (
        "Give your answer a title wrapped in double angular brackets, like <<my title>>.",
        "detectable_format:title",
        {},
    ),
    (
        "Add a postscript at the end starting with P.S.",
        "detectable_content:postscript",
        {"postscript_marker": "P.S."},
    ),
    (
        "Answer with exactly 3 bullet points in markdown, like '* point'.",
        "detectable_format:number_bullet_lists",
        {"num_bullets": 3},
    ),
    (
        "Highlight at least 2 sections with markdown, like *highlighted section*.",
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
    ),
    (
        "Write exactly 2 paragraphs separated by the markdown divider ***.",
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 2},
    ),
    ("Answer in French only, no other language.", "language:response_language", {"language": "fr"}),
    ("Answer in German only, no other language.", "language:response_language", {"language": "de"}),
)
_PEOPLE = (("Ana", 31), ("Kofi", 45), ("Mei", 27), ("Lars", 52), ("Priya", 38), ("Tomas", 19))
_FACTS = (
    ("What is the capital of France?", ["Paris"]),
    ("What is the capital of Japan?", ["Tokyo"]),
    ("What is the capital of Kenya?", ["Nairobi"]),
    ("What is the capital of Canada?", ["Ottawa"]),
    ("What is the capital of Australia?", ["Canberra"]),
    ("What is the capital of Egypt?", ["Cairo"]),
    ("What is the capital of Brazil?", ["Brasília", "Brasilia"]),
    ("What is the chemical symbol for gold?", ["Au"]),
    ("What is the chemical symbol for sodium?", ["Na"]),
    ("What gas do plants absorb from the air for photosynthesis?", ["carbon dioxide", "CO2"]),
    ("Which planet is known as the Red Planet?", ["Mars"]),
    ("What is the largest planet in the Solar System?", ["Jupiter"]),
    ("Who wrote 'Pride and Prejudice'?", ["Jane Austen", "Austen"]),
    ("Who wrote 'Romeo and Juliet'?", ["Shakespeare"]),
    ("Who painted the Mona Lisa?", ["Leonardo", "da Vinci"]),
    ("What is the freezing point of water in degrees Celsius?", ["0", "zero"]),
    ("How many continents are there?", ["seven", "7"]),
    ("What is the longest river in Africa?", ["Nile"]),
    ("What is the hardest natural substance?", ["diamond"]),
    ("In which country is the city of Kyoto?", ["Japan"]),
    ("What is the smallest prime number?", ["2", "two"]),
    ("What language has the most native speakers?", ["Mandarin", "Chinese"]),
    ("What is H2O commonly called?", ["water"]),
    ("How many days are in a leap year?", ["366"]),
    ("Which ocean is the largest?", ["Pacific"]),
    ("What is the currency of the United Kingdom?", ["pound", "sterling", "GBP"]),
    ("What organ pumps blood through the body?", ["heart"]),
    ("Who developed the theory of general relativity?", ["Einstein"]),
    ("What is the square root of 81?", ["9", "nine"]),
    ("Which element has the atomic number 1?", ["hydrogen"]),
)
_FACTS_ZH = (
    ("法国的首都是哪里？", ["巴黎"]),
    ("日本的首都是哪里？", ["东京"]),
    ("中国的首都是哪里？", ["北京"]),
    ("一年有几个月？", ["12", "十二"]),
    ("水的化学式是什么？", ["H2O"]),
    ("太阳系中最大的行星是哪一颗？", ["木星"]),
    ("《红楼梦》的作者是谁？", ["曹雪芹"]),
    ("一周有几天？", ["7", "七"]),
    ("地球上最大的海洋是哪个？", ["太平洋"]),
    ("长城位于哪个国家？", ["中国"]),
)
_OPS = (
    (
        "What is {a} plus {b}? Reply with the number.",
        lambda a, b: a + b,
        "计算 {a} 加 {b} 等于多少？只回答数字。",
    ),
    (
        "What is {a} minus {b}? Reply with the number.",
        lambda a, b: a - b,
        "计算 {a} 减 {b} 等于多少？只回答数字。",
    ),
    (
        "What is {a} times {b}? Reply with the number.",
        lambda a, b: a * b,
        "计算 {a} 乘以 {b} 等于多少？只回答数字。",
    ),
)


# A reference answer for each instruction: it passes the check, so a run over the references
# scores 100% (the suite's self-test) and they serve as the KL probe's completions.
_FILLER = "The morning light moves slowly across the water and the small boats rest in the harbour"
_REFERENCES: dict[str, str] = {
    "change_case:english_lowercase": f"{_FILLER.lower()}.",
    "change_case:english_capital": f"{_FILLER.upper()}.",
    "punctuation:no_comma": f"{_FILLER}.",
    "keywords:existence": f"{_FILLER} and a lantern glows on the pier.",
    "keywords:forbidden_words": f"{_FILLER}.",
    "length_constraints:number_words": "",  # built from the relation below
    "startend:end_checker": f"{_FILLER}. Is there anything else I can help with?",
    "startend:quotation": f'"{_FILLER}."',
    "detectable_format:title": f"<<Harbour Morning>>\n{_FILLER}.",
    "detectable_content:postscript": f"{_FILLER}.\nP.S. The tide turns at noon.",
    "detectable_format:number_bullet_lists": (
        "* The light is soft.\n* The boats are still.\n* The gulls are loud."
    ),
    "detectable_format:number_highlighted_sections": f"*{_FILLER}* and then *the town wakes up*.",
    "length_constraints:number_paragraphs": (
        f"{_FILLER}.\n\n***\n\nThe town wakes up and the bakers open their doors."
    ),
}
_LANGUAGE_REFERENCES = {
    "fr": (
        "Le matin, la lumière avance lentement sur l'eau et les petits bateaux se reposent "
        "dans le port pendant que la ville se réveille doucement."
    ),
    "de": (
        "Am Morgen wandert das Licht langsam über das Wasser und die kleinen Boote ruhen im "
        "Hafen, während die Stadt langsam erwacht."
    ),
}


def _instruction_reference(instruction_id: str, kwargs: dict[str, Any]) -> str:
    if instruction_id == "language:response_language":
        return _LANGUAGE_REFERENCES[kwargs["language"]]
    if instruction_id == "length_constraints:number_words":
        words = _FILLER.split()
        if kwargs["relation"] == "at least":
            return " ".join((words * 10)[: kwargs["num_words"] + 5]) + "."
        return " ".join(words[: kwargs["num_words"] - 5]) + "."
    return _REFERENCES[instruction_id]


def _item(
    item_id: str, category: str, prompt: str, checks: list[dict[str, Any]], reference: str
) -> Sample:
    return Sample(
        id=item_id,
        messages=[{"role": "user", "content": prompt}],
        expect="answer",
        category=category,
        metadata={"checks": checks, "reference": reference},
    )


def generate_regression_set(seed: int = 0) -> list[Sample]:
    """The regression items (320): instructions 128, format 64, knowledge 30, arithmetic 48,
    Chinese 50 (knowledge, arithmetic and answer-in-Chinese instructions)."""
    import random

    rng = random.Random(seed)
    items: list[Sample] = []
    for i in range(128):
        text, instruction_id, kwargs = _INSTRUCTIONS[i % len(_INSTRUCTIONS)]
        topic = rng.choice(_TOPICS)
        prompt = f"Write a short piece about {topic}. {text}"
        check = {
            "kind": "ifeval",
            "instruction_id": instruction_id,
            "kwargs": kwargs,
            "prompt": prompt,
        }
        reference = _instruction_reference(instruction_id, kwargs)
        items.append(_item(f"reg_instr_{i:03d}", "instructions", prompt, [check], reference))
    for i in range(64):
        name, age = rng.choice(_PEOPLE)
        kind = ("json", "yaml", "csv", "markdown")[i % 4]
        if kind == "json":
            prompt = (
                f'Return only a JSON object with the keys "name" and "age" for {name}, aged {age}.'
            )
            check = {"kind": "json_object", "keys": ["name", "age"], "values": {"age": age}}
            reference = json.dumps({"name": name, "age": age})
        elif kind == "yaml":
            prompt = (
                f"Return only a YAML mapping with the keys name and city for {name}, "
                "who lives in Lima."
            )
            check = {"kind": "yaml_mapping", "keys": ["name", "city"], "values": {"city": "Lima"}}
            reference = f"name: {name}\ncity: Lima"
        elif kind == "csv":
            rows = rng.randint(2, 4)
            prompt = f"Return only CSV with the header fruit,color and exactly {rows} data rows."
            check = {"kind": "csv_table", "header": ["fruit", "color"], "rows": rows}
            fruit = [("apple", "red"), ("banana", "yellow"), ("grape", "purple"), ("lime", "green")]
            reference = "fruit,color\n" + "\n".join(f"{f},{c}" for f, c in fruit[:rows])
        else:
            rows = rng.randint(2, 4)
            prompt = (
                "Return only a Markdown table with the columns Country and Capital and "
                f"exactly {rows} rows."
            )
            check = {"kind": "markdown_table", "columns": ["Country", "Capital"], "rows": rows}
            pairs = [
                ("France", "Paris"),
                ("Japan", "Tokyo"),
                ("Kenya", "Nairobi"),
                ("Peru", "Lima"),
            ]
            body = "\n".join(f"| {a} | {b} |" for a, b in pairs[:rows])
            reference = f"| Country | Capital |\n|---|---|\n{body}"
        items.append(_item(f"reg_format_{i:03d}", "format", prompt, [check], reference))
    for i, (question, answers) in enumerate(_FACTS):
        checks = [{"kind": "contains_any", "answers": answers}]
        prompt = f"{question} Answer briefly."
        items.append(_item(f"reg_know_{i:03d}", "knowledge", prompt, checks, answers[0]))
    for i in range(48):
        text, fn, _ = _OPS[i % len(_OPS)]
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        checks = [{"kind": "number", "value": fn(a, b)}]
        prompt = text.format(a=a, b=b)
        items.append(_item(f"reg_math_{i:03d}", "arithmetic", prompt, checks, str(fn(a, b))))
    for i, (question, answers) in enumerate(_FACTS_ZH):
        checks = [{"kind": "contains_any", "answers": answers}]
        prompt = f"{question}请简短回答。"
        items.append(_item(f"reg_zh_know_{i:03d}", "multilingual", prompt, checks, answers[0]))
    for i in range(24):
        _, fn, text = _OPS[i % len(_OPS)]
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        checks = [{"kind": "number", "value": fn(a, b)}]
        prompt = text.format(a=a, b=b)
        reference = f"答案是 {fn(a, b)}"
        items.append(_item(f"reg_zh_math_{i:03d}", "multilingual", prompt, checks, reference))
    for i in range(16):
        topic = rng.choice(_TOPICS)
        prompt = f"请用中文写两三句话介绍{topic}。"
        reference = "清晨的阳光慢慢照在水面上，小船静静地停在港口里。"
        items.append(
            _item(f"reg_zh_write_{i:03d}", "multilingual", prompt, [{"kind": "chinese"}], reference)
        )
    return items
