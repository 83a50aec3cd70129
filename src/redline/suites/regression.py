"""The regression set's cheap online signal: the mean per-token KL divergence between a policy
and its reference model on reference completions, computed without generating anything.

Forgetting tracks this KL, so a training loop can log it at every gate check. Only forward
passes here; the regression items themselves are loaded elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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
