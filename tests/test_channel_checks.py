"""``flowhq check --channel whatsapp`` agrees with the WhatsApp app's start-up; ``flowhq dev``
never shows a traceback for a flow it cannot run as is."""

from __future__ import annotations

import argparse
import importlib
import inspect
import io
from pathlib import Path

import pytest

from flowhq import Choice, Flow, FlowDefinitionError, Headquarters, MemoryStore, Message
from flowhq.channels.whatsapp import WhatsAppMessenger
from flowhq.cli import main
from flowhq.cli._common import CliError
from flowhq.cli.dev import api_or_forced, check_channel
from flowhq.testing.conversation import no_api

ROOT = Path(__file__).resolve().parent.parent


class TooWide(Flow):
    """A flow WhatsApp refuses: a button title of 26 characters."""

    name = "too_wide"

    pick = Choice("Which?", options={"a": "A title far too long to fit", "b": "B"}, initial=True)
    done = Message("Done.", final=True)

    chosen = pick.to(done)


def _modules() -> list[str]:
    found = [f"examples.{p.stem}" for p in sorted((ROOT / "examples").glob("*.py"))]
    for path in sorted((ROOT / "tests").rglob("*.py")):
        # Test modules and the shared flow modules; the apps and workers the tests start
        # read their settings from the environment when imported.
        if path.stem.startswith(("test_", "flows")) or path.stem == "chart_zoo":
            found.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return [name for name in found if not name.endswith("__init__")]


def _flows() -> list[tuple[str, type[Flow]]]:
    flows: dict[int, tuple[str, type[Flow]]] = {}
    for module_name in _modules():
        module = importlib.import_module(module_name)
        for attr, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, Flow)
                and value is not Flow
                and value.__module__ == module_name
                and not value._abstract
                and not value.__flowhq_problems__
            ):
                flows.setdefault(id(value), (f"{module_name}:{attr}", value))
    return sorted(flows.values(), key=lambda item: item[0])


FLOWS = _flows()


def _starts(flow: type[Flow]) -> bool:
    messenger = WhatsAppMessenger(
        phone_number_id="1", access_token="test-token", base_url="http://graph.invalid"
    )
    try:
        Headquarters(flows=[flow], store=MemoryStore(), messenger=messenger, api=no_api())
    except FlowDefinitionError:
        return False
    return True


def test_there_are_flows_of_both_kinds() -> None:
    assert len(FLOWS) > 40
    assert any(target.endswith(":TooWide") for target, _ in FLOWS)


@pytest.mark.parametrize(("target", "flow"), FLOWS, ids=[t for t, _ in FLOWS])
def test_check_agrees_with_the_whatsapp_app(
    target: str, flow: type[Flow], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", target, "--channel", "whatsapp"])
    out = capsys.readouterr().out
    assert (code == 0) == _starts(flow), out
    if flow.__name__ == "TooWide":
        assert "has 27 characters; WhatsApp allows 20" in out


def test_dev_refuses_a_flow_whatsapp_cannot_show_in_one_line() -> None:
    with pytest.raises(CliError, match="WhatsApp cannot show these flows as written"):
        check_channel([TooWide])


def test_dev_runs_an_api_flow_without_an_api_through_forced_results() -> None:
    from examples.signup import Signup

    out = io.StringIO()
    args = argparse.Namespace(api=None, asgi=None)
    client = api_or_forced(args, [Signup], out)
    assert client is not None
    assert out.getvalue().count("\n") == 1
    assert "Signup.create call no API" in out.getvalue()
    assert "force its result" in out.getvalue()
    quiet = io.StringIO()
    assert api_or_forced(args, [TooWide], quiet) is None
    assert quiet.getvalue() == ""
