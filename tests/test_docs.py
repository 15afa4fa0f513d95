"""Every ```python block in README.md and docs/*.md runs (blocks of a file share a namespace,
in order; top-level ``await`` is allowed)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks(path: Path) -> list[str]:
    return BLOCK.findall(path.read_text())


@pytest.fixture
def doc_env(monkeypatch: pytest.MonkeyPatch, redis_url: str, cluster_url: str) -> None:
    """Docs examples reach the test servers through the environment, as users' code would."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("REDIS_CLUSTER_URL", cluster_url)


@pytest.mark.parametrize("path", [p for p in DOCS if blocks(p)], ids=lambda p: p.name)
@pytest.mark.usefixtures("doc_env")
async def test_doc_examples_run(path: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
    for number, source in enumerate(blocks(path), start=1):
        code = compile(
            source, f"{path.name}[block {number}]", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        result = eval(code, namespace)
        if inspect.isawaitable(result):
            await result
