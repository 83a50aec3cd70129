"""The red-line gate during training: every N steps, save the adapter, evaluate it on the gate's
suites with the harness, judge it against the starting checkpoint's runs, probe KL, and act.

Policy on a breach: first raise beta (x2), then lower the learning rate (x0.5), and on a third
breach stop and restore the best checkpoint that held every line (the start holds by
definition). Each decision is one line of ``gate_log.jsonl`` with the table behind it.
Evaluation logic stays in the harness and the gate; this module only decides.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.harness.runs import METRICS
from redline.training.common import GATE_LOG, append_jsonl
from redline.training.config import GateSettings

ACTIONS = ("continue", "raise_beta", "lower_lr", "stop")


def suite_slug(suite: str) -> str:
    """A suite name as a folder name: ``fc:dev`` -> ``fc-dev``."""
    return suite.replace(":", "-").replace("/", "-")


def checkpoint_name(step: int) -> str:
    return f"step-{step:06d}"


@dataclass
class Check:
    step: int
    checkpoint: str  # relative to the run folder
    held: bool
    score: float  # the function-calling score used to pick the best checkpoint


class _AdapterOff:
    """The policy with its LoRA adapter switched off: the reference model of a PEFT run,
    shaped as ``kl_probe`` calls a model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    @property
    def training(self) -> bool:
        return self.model.training

    def eval(self) -> _AdapterOff:
        return self

    def train(self, mode: bool = True) -> _AdapterOff:
        return self

    def parameters(self) -> Any:
        return self.model.parameters()

    def __call__(self, **inputs: Any) -> Any:
        with self.model.disable_adapter():
            return self.model(**inputs)


def fc_score(run: Path) -> float:
    """AST accuracy of a run (parse rate where AST does not apply), from its metrics.json."""
    metrics = json.loads((run / METRICS).read_text(encoding="utf-8"))["overall"]["metrics"]
    for name in ("ast_accuracy", "parse_rate"):
        value = metrics.get(name, {}).get("value")
        if value is not None:
            return float(value)
    return 0.0


def kl_records(records: list[Any], count: int) -> list[Any]:
    """The baseline records whose prompts and outputs the KL probe uses: ``count`` of them with
    an output, in the --limit draw's order, so they span the suite's categories (the first
    ``count`` of a suite ordered by category would all be of its first category)."""
    from redline.suites.registry import draw_order

    with_output = {r.sample.id: r for r in records if r.completion.raw}
    order = draw_order([r.sample for r in with_output.values()])
    return [with_output[s.id] for s in order[:count]]


def make_gate_callback(
    settings: GateSettings, out: Path, mode: str, lines: Any = None, progress: bool = False
) -> Any:
    """The callback; call ``attach(trainer)`` before ``trainer.train()``."""
    from transformers import TrainerCallback

    from redline.gate import (
        Gate,
        GateError,
        GateResult,
        family,
        judge,
        load_redlines,
        unmatched_message,
    )
    from redline.harness.models import HFBackend, Sampling
    from redline.harness.runner import run_eval
    from redline.metrics.stats import compare
    from redline.suites.registry import load_suite
    from redline.suites.regression import kl_probe
    from redline.training.config import ConfigError

    class RedLineGate(TrainerCallback):
        def __init__(self) -> None:
            self.trainer: Any = None
            self.lines = lines if lines is not None else load_redlines(settings.redlines)
            self.suites = {name: load_suite(name, limit) for name, limit in settings.suites.items()}
            self.baseline: dict[str, Path] = {}
            self.gates: dict[str, Any] = {}  # suite -> Gate holding the baseline's records
            self.checks: list[Check] = []
            self.breaches = 0
            self.lr_scale = 1.0
            self.kl_pairs: list[tuple[str, str]] = []

        def attach(self, trainer: Any) -> None:
            self.trainer = trainer
            trainer.add_callback(self)

        # -- helpers ---------------------------------------------------------------------
        def _model(self) -> Any:
            return self.trainer.accelerator.unwrap_model(self.trainer.model)

        def _backend(self, spec: str) -> Any:
            sampling = Sampling(max_new_tokens=settings.max_new_tokens, temperature=0.0)
            return HFBackend.from_model(
                self._model(), self.trainer.processing_class, spec, mode=mode, sampling=sampling
            )

        def _evaluate(self, folder: Path, spec: str, names: list[str]) -> dict[str, Path]:
            model = self._model()
            was_training = model.training
            model.eval()
            backend = self._backend(spec)
            runs = {}
            try:
                for name in names:
                    runs[name] = run_eval(
                        self.suites[name],
                        backend,
                        folder / suite_slug(name),
                        fmt=backend.mode.parser,
                        batch_size=settings.batch_size,
                        progress=progress,
                        settings={
                            "limit": settings.suites[name],
                            "mode": mode,
                            "sampling": backend.sampling.__dict__,
                        },
                    ).path
            finally:
                model.train(was_training)
            return runs

        def _save_adapter(self, step: int) -> str:
            name = f"checkpoints/{checkpoint_name(step)}"
            self._model().save_pretrained(str(out / name / "adapter"))
            return name

        def _kl(self) -> float | None:
            if not self.kl_pairs:
                return None
            model = self._model()
            value = kl_probe(
                model, _AdapterOff(model), self.kl_pairs, self.trainer.processing_class
            )
            return value if value == value else None  # NaN: nothing scored

        def _scale_lr(self, factor: float) -> None:
            # LambdaLR-style schedulers recompute lr from base_lrs each step: scale both.
            scheduler = self.trainer.lr_scheduler
            if scheduler is not None and hasattr(scheduler, "base_lrs"):
                scheduler.base_lrs = [lr * factor for lr in scheduler.base_lrs]
            for group in self.trainer.optimizer.param_groups:
                group["lr"] *= factor
            if scheduler is not None and hasattr(scheduler, "_last_lr"):
                # What the trainer logs as learning_rate: say the rate the next step uses.
                scheduler._last_lr = [g["lr"] for g in self.trainer.optimizer.param_groups]
            self.lr_scale *= factor

        def _restore_best(self) -> str:
            best = max(
                (c for c in self.checks if c.held), key=lambda c: (c.score, c.step), default=None
            )
            assert best is not None  # the start holds by definition
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file

            adapter = out / best.checkpoint / "adapter"
            set_peft_model_state_dict(
                self._model(), load_file(adapter / "adapter_model.safetensors")
            )
            target = out / "best"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(adapter, target / "adapter")
            (target / "best.json").write_text(
                json.dumps({"step": best.step, "checkpoint": best.checkpoint})
            )
            return best.checkpoint

        def _check_lines(self) -> None:
            """Refuse, before the first step, a red line that matches no metric of any gated
            suite's baseline: every check would hold on it without looking."""
            names, matched, applied = [], set(), set()
            for name, gate in self.gates.items():
                try:
                    table = compare(gate.records, gate.records, family(gate.suite))
                except GateError as exc:  # a baseline run with no records
                    raise ConfigError(f"gate: baseline of {name}: {exc}") from exc
                names += [row.metric for row in table]
                result = judge(table, self.lines)
                matched |= {check.line for check in result.checks}
                applied |= {str(line) for line in self.lines} - set(result.not_applied)
            missing = [str(line) for line in self.lines if str(line) in applied - matched]
            if missing:
                raise ConfigError(
                    "gate: " + "; ".join(unmatched_message(line, names) for line in missing)
                )

        # -- events ----------------------------------------------------------------------
        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            start = self._save_adapter(0)
            given = {k: Path(v) for k, v in settings.baseline.items()}
            missing = [n for n in self.suites if n not in given]
            if missing:
                given.update(self._evaluate(out / "baseline", "checkpoint:start", missing))
            self.baseline = given
            # Read each baseline run once; every check compares against the same records.
            self.gates = {
                name: Gate(given[name], self.lines, require_power=settings.require_power)
                for name in self.suites
            }
            self._check_lines()
            probe = next((n for n in self.suites if n.startswith("regression")), None)
            probe = probe or next(iter(self.suites))
            records = self.gates[probe].records  # the baseline run's, already read
            backend = self._backend("probe")
            self.kl_pairs = [
                (backend.prompt(r.sample), r.completion.raw)
                for r in kl_records(records, settings.kl_prompts)
            ]
            fc = [n for n in self.suites if not n.startswith("regression")]
            score = fc_score(self.baseline[fc[0]]) if fc else 0.0
            self.checks.append(Check(0, start, True, score))

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.global_step % settings.every == 0:
                self.check(state.global_step, control)

        def check(self, step: int, control: Any) -> dict[str, Any]:
            name = self._save_adapter(step)
            runs = self._evaluate(out / name / "eval", f"checkpoint:{name}", list(self.suites))
            # Each suite's gate applies the lines of its family; every line was matched against
            # the baselines before the first step (_check_lines).
            try:
                results: dict[str, GateResult] = {
                    suite: self.gates[suite].check(run, strict=False) for suite, run in runs.items()
                }
            except GateError as exc:
                raise ConfigError(f"gate at step {step}: {exc}") from exc
            held = all(r.held for r in results.values())
            fc = [n for n in runs if not n.startswith("regression")]
            self.checks.append(Check(step, name, held, fc_score(runs[fc[0]]) if fc else 0.0))
            kl = self._kl()  # of the checkpoint judged, before any restore
            action, restored = "continue", None
            if not held:
                self.breaches += 1
                action = ACTIONS[min(self.breaches, 3)]
            if action == "raise_beta":
                self.trainer.beta *= settings.beta_factor
            elif action == "lower_lr":
                self._scale_lr(settings.lr_factor)
            elif action == "stop":
                restored = self._restore_best()
                control.should_training_stop = True
            row = {
                "step": step,
                "checkpoint": name,
                "held": held,
                "action": action,
                "beta": self.trainer.beta,
                "lr_scale": self.lr_scale,
                "kl_probe": kl,
                "breaches": [b for r in results.values() for b in r.to_dict()["breaches"]],
                "checks": [c for r in results.values() for c in r.to_dict()["checks"]],
                "table": [row for r in results.values() for row in r.to_dict()["table"]],
                "evals": {suite: str(run.relative_to(out)) for suite, run in runs.items()},
                "baseline": {s: str(p) for s, p in self.baseline.items()},
            }
            if restored:
                row["restored"] = restored
            append_jsonl(out / GATE_LOG, row)
            return row

    return RedLineGate()
