"""Without opentelemetry and prometheus-client installed, flowhq runs and says what is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import asyncio, sys
sys.modules["opentelemetry"] = None  # as if neither extra were installed
sys.modules["prometheus_client"] = None

from flowhq import Headquarters, InboundMessage, MemoryStore, RecordingMessenger
from flowhq.observability import PrometheusMetrics, tracing
from tests.flows import Age

assert not tracing.ENABLED
assert tracing.traceparent() is None
with tracing.span("flowhq.step") as span:
    assert span is None

async def main():
    hq = Headquarters(flows=[Age], store=MemoryStore(), messenger=RecordingMessenger())
    outcome = await hq.handle(InboundMessage("whatsapp", "+15550100", "m1", "hi"))
    assert outcome.delivered
asyncio.run(main())
try:
    PrometheusMetrics()
except ImportError as exc:
    print(exc)
"""


def test_flowhq_runs_without_the_extras_and_names_the_missing_one() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'flowhq[metrics]'" in done.stdout
