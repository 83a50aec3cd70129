"""The `redline` command line: --help everywhere, the ground-truth demo, parse, clear errors."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from redline import __version__
from redline.cli import app
from redline.harness.backends import MODEL_SPECS
from tests.test_bfcl_data import write_fixture

runner = CliRunner()


def command_names():
    return [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands]


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "redline"
    assert script.exists() or shutil.which("redline")
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    assert "bfcl-truth" in out.stdout


# Libraries that take seconds to import, or that a machine without a model has no use for.
HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "httpx", "streamlit", "bfcl_eval")


def test_help_imports_no_model_or_server_library():
    # Each command imports what it runs inside its function, so help answers at once.
    code = (
        "import sys, typer\n"
        "from typer.testing import CliRunner\n"
        "from redline.cli import app\n"
        "def walk(command, path):\n"
        "    yield path\n"
        "    for name, sub in getattr(command, 'commands', {}).items():\n"
        "        yield from walk(sub, [*path, name])\n"
        "for path in walk(typer.main.get_command(app), []):\n"
        "    result = CliRunner().invoke(app, [*path, '--help'])\n"
        "    assert result.exit_code == 0, (path, result.output)\n"
        "    print('command', ' '.join(path) or '-')\n"
        "print('modules', *sorted(sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    shown = [line.removeprefix("command ") for line in lines if line.startswith("command ")]
    assert {"-", "eval", "bfcl", "explore", "train grpo"} <= set(shown)
    loaded = {name.partition(".")[0] for name in lines[-1].split()[1:]}
    assert "redline" in loaded and "typer" in loaded  # the list is the real one
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_version_flag_and_command_say_the_same():
    flag, command = runner.invoke(app, ["--version"]), runner.invoke(app, ["version"])
    assert flag.exit_code == 0 and command.exit_code == 0, flag.output + command.output
    assert flag.output == command.output and flag.output.strip() == __version__
    # The flag is eager: it answers before a command's own options are checked.
    assert runner.invoke(app, ["--version", "eval"]).output == flag.output
    assert "--version" in runner.invoke(app, ["--help"]).output


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help(name):
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output) > 200


def _commands() -> list[tuple[list[str], Any]]:
    """(arguments that reach the command, the command), groups' commands included."""
    found = []

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "commands"):  # a group (typer's own click)
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        else:
            found.append((path, command))

    walk(typer.main.get_command(app), [])
    return found


def _flat(text: str) -> str:
    # Markdown shows a code span without its backticks.
    return " ".join(text.replace("│", " ").replace("`", "").split())


@pytest.mark.parametrize(
    "args,command", _commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_help_shows_every_word_reflowed(monkeypatch, args, command):
    # Docstrings break lines at 100 columns: help must reflow them rather than keep the source's
    # line breaks, and must take none of the text (OUT/<suite>, a_b_c) for markup.
    monkeypatch.setattr("typer.rich_utils.MAX_WIDTH", 250)
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    lines, shown = result.output.splitlines(), _flat(result.output)
    for paragraph in inspect.cleandoc(command.help or "").split("\n\n"):
        words = _flat(paragraph)
        assert words in shown, (args, words)
        start = words[:150].rsplit(" ", 1)[0]  # more than a source line, less than a wide one
        assert any(start in _flat(line) for line in lines), (args, start)
    for param in command.params:
        if getattr(param, "help", None):
            assert _flat(param.help) in shown, (args, param.name)
    # At 100 columns no word is too long for its column (rich would cut it short with "…").
    monkeypatch.setattr("typer.rich_utils.MAX_WIDTH", 100)
    assert "…" not in runner.invoke(app, [*args, "--help"]).output, args


def test_the_command_list_reflows_each_summary(monkeypatch):
    monkeypatch.setattr("typer.rich_utils.MAX_WIDTH", 250)
    output = runner.invoke(app, ["--help"]).output
    for args, command in _commands():
        if len(args) == 1:
            summary = _flat(inspect.cleandoc(command.help).split("\n\n")[0])
            assert summary in _flat(output), summary
            start = summary[:150].rsplit(" ", 1)[0]
            assert any(start in _flat(line) for line in output.splitlines()), summary


def test_bfcl_truth_scores_ground_truth(tmp_path):
    result = runner.invoke(
        app, ["bfcl-truth", "-c", "simple_python", "-c", "irrelevance", "--official"]
    )
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "simple_python" in line)
    assert "400" in row and row.count("100.0") >= 4 and "400/400" in row
    assert any("irrelevance" in line and "240" in line for line in result.output.splitlines())


def test_bfcl_truth_reads_another_copy(tmp_path):
    root = write_fixture(tmp_path / "bfcl")
    result = runner.invoke(app, ["bfcl-truth", "-c", "simple_python", "--bfcl-data", str(root)])
    assert result.exit_code == 0, result.output
    assert "simple_python" in result.output and str(root) in result.output.replace("\n", "")


def test_bfcl_truth_errors_are_clear(tmp_path):
    result = runner.invoke(app, ["bfcl-truth", "--bfcl-data", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "not a folder" in result.output
    result = runner.invoke(app, ["bfcl-truth", "--format", "xml"])
    assert result.exit_code == 2 and "unknown format 'xml'" in result.output


def test_parse_prints_the_completion(tmp_path):
    result = runner.invoke(
        app,
        ["parse", "--format", "hermes"],
        input='<think>hm</think><tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>',
    )
    assert result.exit_code == 0, result.output
    completion = json.loads(result.output)
    assert completion["calls"] == [{"name": "f", "arguments": {"a": 1}}]
    assert completion["reasoning"] == "hm"
    bad = tmp_path / "out.txt"
    bad.write_text("[f(a=1")
    result = runner.invoke(app, ["parse", "--format", "python", str(bad)])
    assert result.exit_code == 1
    assert json.loads(result.output)["parse_error"]["kind"] == "invalid_syntax"


def test_parse_detects_the_format_and_reads_dash_as_standard_input():
    # As the rewards do, the format is detected unless one is named; "-" is standard input.
    result = runner.invoke(app, ["parse", "-"], input='[get_weather(city="Oslo")]')
    assert result.exit_code == 0, result.output
    completion = json.loads(result.output)
    assert completion["format"] == "python"
    assert completion["calls"] == [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    result = runner.invoke(app, ["parse", "--help"])
    assert "openai" in result.output and "default: auto" in result.output


# -- bfcl and eval share their model specs, sampling options and folder naming --------------

SAMPLING_OPTIONS = {"max_new_tokens", "temperature", "top_p", "seed", "thinking"}


def _params(name: str) -> dict[str, Any]:
    command = typer.main.get_command(app).commands[name]
    return {p.name: p for p in command.params}


def test_bfcl_takes_every_sampling_option_eval_has():
    eval_params, bfcl_params = _params("eval"), _params("bfcl")
    shared = SAMPLING_OPTIONS & set(eval_params)
    assert {"max_new_tokens", "temperature", "seed", "thinking"} <= shared
    for name in [*shared, "allow_missing"]:
        assert name in bfcl_params, name
        assert bfcl_params[name].default == eval_params[name].default, name
        assert bfcl_params[name].opts == eval_params[name].opts, name


@pytest.mark.parametrize("name", ["eval", "bfcl"])
def test_model_help_lists_every_spec(monkeypatch, name):
    monkeypatch.setattr("typer.rich_utils.MAX_WIDTH", 250)
    shown = _flat(runner.invoke(app, [name, "--help"]).output)
    # Every spec make_backend takes (the list its errors give) is in the help.
    assert len(MODEL_SPECS) == 6 and "smollm2+lora:ADAPTER" in MODEL_SPECS
    for spec in MODEL_SPECS:
        assert f"{spec} (" in shown, (name, spec)


class _StubServer:
    """A chat-completions server on loopback that records each request body and answers with
    plain text; started in a thread, stopped by the fixture whatever happens."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from threading import Thread

        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers["Content-Length"])
                bodies.append(json.loads(self.rfile.read(length)))
                message = {"role": "assistant", "content": "no idea"}
                answer = {
                    "id": f"chatcmpl-{len(bodies)}",
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
                }
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def stub_server():
    server = _StubServer()
    try:
        yield server
    finally:
        server.stop()


def test_bfcl_sends_the_sampling_options_and_names_its_folder(stub_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = f"openai:{stub_server.url}#org/stub-model"
    args = ["bfcl", "--model", model, "-c", "simple_python", "-c", "irrelevance", "--limit", "2"]
    sampling = ["--temperature", "0.7", "--seed", "5", "--thinking", "--max-new-tokens", "32"]
    result = runner.invoke(app, [*args, *sampling])
    assert result.exit_code == 0, result.output
    assert len(stub_server.bodies) == 4
    for body in stub_server.bodies:
        assert body["temperature"] == 0.7 and body["seed"] == 5 and body["max_tokens"] == 32
        assert body["chat_template_kwargs"] == {"enable_thinking": True}
    folder = tmp_path / "runs" / "bfcl-stub-model"
    assert (folder / "metrics.json").exists() and (folder / "bfcl_scores.csv").exists()
    manifest = json.loads((folder / "simple_python" / "manifest.json").read_text())
    recorded = manifest["settings"]["sampling"]
    assert recorded["temperature"] == 0.7 and recorded["seed"] == 5
    assert recorded["enable_thinking"] is True and recorded["max_new_tokens"] == 32


def test_default_run_folders_have_readable_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    replay = tmp_path / "sub_good.json"
    replay.write_text('{"id": "simple_python_0", "result": "[f(a=1)]"}\n')
    args = ["--model", f"replay:{replay}", "--first", "1"]
    result = runner.invoke(app, ["eval", *args, "--suite", "bfcl:simple_python"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["bfcl", *args, "-c", "simple_python"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "bfcl-replay-sub_good",
        "bfcl-simple_python-replay-sub_good",
    ]
    assert (tmp_path / "runs" / "bfcl-replay-sub_good" / "simple_python").is_dir()
    from redline.harness.backends import model_label

    assert {
        spec: model_label(spec)
        for spec in (
            "smollm2",
            "smollm2+lora:runs/sft/adapter",
            "hf:HuggingFaceTB/SmolLM2-135M-Instruct",
            "hf:./ckpt-200+lora:/tmp/x/grpo/checkpoint-50",
            "openai:http://127.0.0.1:8000/v1#Qwen/Qwen3-0.6B",
            "replay:runs/base-fc-dev/samples.jsonl",
        )
    } == {
        "smollm2": "smollm2",
        "smollm2+lora:runs/sft/adapter": "smollm2+lora-sft-adapter",
        "hf:HuggingFaceTB/SmolLM2-135M-Instruct": "SmolLM2-135M-Instruct",
        "hf:./ckpt-200+lora:/tmp/x/grpo/checkpoint-50": "ckpt-200+lora-grpo-checkpoint-50",
        "openai:http://127.0.0.1:8000/v1#Qwen/Qwen3-0.6B": "Qwen3-0.6B",
        "replay:runs/base-fc-dev/samples.jsonl": "replay-base-fc-dev",
    }
