"""The ``flowhq`` command: chat (piped and via path targets) and check."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowhq.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowhq.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_chat_reads_piped_input_to_the_end() -> None:
    result = run_cli(
        "chat",
        "examples.signup:Signup",
        "--asgi",
        "examples.demo_api:app",
        stdin="Ann\nann@example.com\nyes\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "bot> What's your name?",
        "you> Ann",
        "bot> Thanks Ann! Your email?",
        "you> ann@example.com",
        "bot> Create an account for Ann <ann@example.com>?",
        "1. yes",
        "2. no",
        "you> yes",
        "bot> Welcome aboard, Ann!",
        "(conversation finished)",
    ]


def test_chat_with_a_file_target_and_early_eof(tmp_path: Path) -> None:
    flow_file = tmp_path / "tiny.py"
    flow_file.write_text(
        textwrap.dedent("""
        from flowhq import Flow, Message, Prompt

        class Tiny(Flow):
            ask = Prompt("Your name?", save_as="name", initial=True)
            bye = Message("Bye {name}.", final=True)
            valid = ask.to(bye)
    """)
    )
    result = run_cli("chat", f"{flow_file}:Tiny")
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["bot> Your name?"]
    result = run_cli("chat", f"{flow_file}:Tiny", stdin="Zoe\n")
    assert result.stdout.splitlines()[-2:] == ["bot> Bye Zoe.", "(conversation finished)"]


def test_check_reports_problems_with_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "examples.support_menu:SupportMenu"]) == 0
    assert "ok" in capsys.readouterr().out
    broken = tmp_path / "broken.py"
    broken.write_text(
        textwrap.dedent("""
        from flowhq import Flow, Message, Prompt

        class Broken(Flow):
            ask = Prompt("?", max_attempts=2, initial=True)
            end = Message("end", final=True)
            valid = ask.to(end)
    """)
    )
    assert main(["check", f"{broken}:Broken"]) == 1
    out = capsys.readouterr().out
    assert "result 'exhausted' of its Prompt is not handled" in out


def test_bad_targets_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "no_such_module:Flow"]) == 2
    assert main(["check", "examples.signup:Nope"]) == 2
    assert main(["check", "examples.signup"]) == 2
    assert main(["check", "examples.signup:email"]) == 2
    assert "flowhq:" in capsys.readouterr().err
