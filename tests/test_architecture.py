"""The house rules of docs/architecture.md: imports point down, never up, never in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "flowhq"

# Each room with the rooms it may import (itself always). Kept in step with the table of
# docs/architecture.md.
BASE = {"errors", "messaging", "_modules"}
MAY_IMPORT: dict[str, set[str]] = {
    "_modules": set(),
    "errors": set(),
    "messaging": {"errors"},
    "state": BASE,
    "statecharts": BASE | {"state"},
    "components": BASE | {"state", "statecharts"},
    "validators": BASE | {"state", "statecharts", "components"},
    "persistence": BASE | {"state"},
    "i18n": BASE | {"state", "statecharts", "components"},
    # The runtime, the inbox and the channels report through it: it sits below them.
    "observability": BASE,
    "runtime": BASE
    | {"state", "statecharts", "components", "validators", "persistence", "i18n", "observability"},
}
MAY_IMPORT["headquarters"] = MAY_IMPORT["runtime"] | {"runtime"}
MAY_IMPORT["inbox"] = MAY_IMPORT["headquarters"] | {"headquarters"}
MAY_IMPORT["channels"] = MAY_IMPORT["inbox"] | {"inbox"}
MAY_IMPORT["diagrams"] = {"errors", "statecharts", "components", "state", "messaging"}
MAY_IMPORT["testing"] = MAY_IMPORT["channels"] | {"channels", "diagrams"}
MAY_IMPORT["dev"] = MAY_IMPORT["testing"] | {"testing", "observability"}
MAY_IMPORT["cli"] = MAY_IMPORT["dev"] | {"dev"}


TOP = {"cli", "dev"}
"""Rooms above everything, which may use the public index ``flowhq`` as users do."""


def room_of(module: str) -> str:
    """``flowhq.runtime.step`` -> ``runtime``; ``flowhq.errors`` -> ``errors``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(module: str, path: Path) -> set[str]:
    """The flowhq modules ``module`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("flowhq"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name == "flowhq":  # `from flowhq import diagrams` imports a subpackage
                found.update(
                    f"flowhq.{alias.name}" if (SRC / alias.name).exists() else "flowhq"
                    for alias in node.names
                )
            elif name.startswith("flowhq"):
                found.add(name)
    return found


MODULES = modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    room = room_of(module)
    if room == "__init__":
        return  # the public index imports whatever it re-exports
    assert room in MAY_IMPORT, f"{room} is not in docs/architecture.md's table"
    for imported in imports_of(module, MODULES[module]):
        other = room_of(imported)
        if other == "__init__":
            assert room in TOP, f"{module} imports the public index flowhq (a circle)"
        elif other != room:
            assert other in MAY_IMPORT[room], f"{module} ({room}) imports {imported} ({other})"


def test_no_module_imports_itself_in_a_circle() -> None:
    graph = {module: imports_of(module, path) & set(MODULES) for module, path in MODULES.items()}
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph[module]):
            if imported == module or imported == "flowhq":
                continue
            if state.get(imported) == 1:
                circle = [*trail[trail.index(imported) :], imported]
                pytest.fail("import circle: " + " -> ".join(circle))
            if imported not in state:
                visit(imported, [*trail, imported])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_no_function_is_over_60_lines() -> None:
    """Short functions with one idea each (docs/architecture.md); docstrings not counted."""
    long = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if ast.get_docstring(node) is not None:
                    docstring = node.body[0]
                    size -= (docstring.end_lineno or docstring.lineno) - docstring.lineno + 1
                if size > 60:
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {size}")
    assert long == []
