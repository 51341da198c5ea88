"""Imports run downward: every package of ``carework`` sits on a floor, and a module imports
only from floors below its own (or from its own package). A package importing one above it is a
responsibility in the wrong room; this fails before it lands.

``docs/layers.md`` is the picture of it, drawn from the code: regenerate it with
``python -m tests.test_layers`` after moving a package (the test fails while it is stale).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "carework"
PICTURE = ROOT / "docs" / "layers.md"

#: From the ground up. A package may import any package on a lower floor, none on its own or
#: a higher one (its own modules excepted).
FLOORS: list[tuple[str, frozenset[str]]] = [
    ("vocabulary and errors", frozenset({"__init__", "vocab", "errors"})),
    (
        "plain helpers",
        frozenset({"bodies", "versions", "lifecycle", "config", "logs", "nid", "files", "labels"}),
    ),
    ("tables and paging", frozenset({"models", "paging"})),
    ("database and identity", frozenset({"db", "auth"})),
    ("the access model", frozenset({"access"})),
    ("the audit trail", frozenset({"audit"})),
    ("the change feed, idempotency", frozenset({"feed", "idempotency"})),
    ("the read model", frozenset({"readmodel"})),
    ("plans", frozenset({"plans"})),
    ("agreements", frozenset({"agreements"})),
    ("goals and activities", frozenset({"goals", "activities"})),
    ("notes, team, consent, receipts", frozenset({"notes", "team", "consent", "receipts"})),
    ("reviews, meetings, indicators", frozenset({"reviews", "meetings", "indicators"})),
    ("demo data", frozenset({"demo"})),
    ("HTTP glue", frozenset({"http"})),
    ("the printed plan", frozenset({"pdf"})),
    ("audiences", frozenset({"api", "fhir", "ui", "operations"})),
    ("the app", frozenset({"app"})),
    ("the spec", frozenset({"openapi"})),
    ("the server processes", frozenset({"serving"})),
    ("the command line", frozenset({"cli"})),
]
FLOOR = {package: n for n, (_, packages) in enumerate(FLOORS) for package in packages}


def _package(module: str) -> str:
    """``carework.access.scope`` → ``access``; ``carework`` → ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports() -> dict[str, set[str]]:
    """Package → the other carework packages its modules import."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in SOURCE.rglob("*.py"):
        relative = path.relative_to(SOURCE.parent).with_suffix("")
        module = ".".join(part for part in relative.parts if part != "__init__")
        importer = _package(module)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "carework":
                    named = [f"carework.{alias.name}" for alias in node.names]
                elif node.module.startswith("carework."):
                    named = [node.module]
                else:
                    continue
            elif isinstance(node, ast.Import):
                named = [a.name for a in node.names if a.name.startswith("carework.")]
            else:
                continue
            for name in named:
                imported = _package(name)
                if imported != importer and imported != "__version__":
                    graph[importer].add(imported)
    return graph


def _reduced(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph without the imports another path already implies (its transitive reduction):
    what a reader needs to see, not every line."""

    def reaches(start: str, goal: str, skip: tuple[str, str]) -> bool:
        stack, seen = [start], {start}
        while stack:
            node = stack.pop()
            for nxt in graph.get(node, set()):
                if (node, nxt) == skip or nxt in seen:
                    continue
                if nxt == goal:
                    return True
                seen.add(nxt)
                stack.append(nxt)
        return False

    return {a: {b for b in bs if not reaches(a, b, (a, b))} for a, bs in graph.items()}


def picture() -> str:
    graph = imports()
    lines = [
        "# How carework's packages stand on each other",
        "",
        "Drawn from the code by `python -m tests.test_layers`; `tests/test_layers.py` fails",
        "when it is stale or when a package imports one on its own floor or above. Floors from",
        "the ground up; an arrow is an import (those another path implies are left out), and",
        "every arrow points down.",
        "",
        "```mermaid",
        "flowchart BT",
    ]
    for n, (name, packages) in enumerate(FLOORS):
        lines.append(f'  subgraph floor{n}["{n}. {name}"]')
        lines += [f"    {p}" for p in sorted(packages) if p != "__init__"]
        lines.append("  end")
    reduced = _reduced({k: v - {"__init__"} for k, v in graph.items() if k != "__init__"})
    lines += [f"  {a} --> {b}" for a in sorted(reduced) for b in sorted(reduced[a])]
    lines += ["```", "", "| floor | packages | imports from floors |", "| --- | --- | --- |"]
    for n, (name, packages) in enumerate(FLOORS):
        below = sorted({FLOOR[i] for p in packages for i in graph.get(p, set())})
        members = ", ".join(f"`{p}`" for p in sorted(packages))
        lines.append(f"| {n}. {name} | {members} | {', '.join(map(str, below)) or '-'} |")
    return "\n".join(lines) + "\n"


def test_every_package_has_a_floor() -> None:
    packages = {path.stem if path.is_file() else path.name for path in SOURCE.iterdir()}
    packages = {"__init__" if p == "__init__" else p for p in packages if not p.startswith(".")}
    packages -= {"py", "__pycache__", "templates", "static"}
    unplaced = sorted(p for p in packages if p not in FLOOR)
    assert unplaced == [], f"packages with no floor in FLOORS: {unplaced}"


def test_imports_run_downward() -> None:
    upward = [
        f"{importer} (floor {FLOOR[importer]}) imports {imported} (floor {FLOOR[imported]})"
        for importer, imported_set in sorted(imports().items())
        for imported in sorted(imported_set)
        if FLOOR[imported] >= FLOOR[importer]
    ]
    assert upward == [], "\n".join(upward)


def test_the_picture_is_current() -> None:
    assert PICTURE.read_text() == picture(), "run `python -m tests.test_layers` and commit it"


if __name__ == "__main__":
    PICTURE.write_text(picture())
    print(f"wrote {PICTURE.relative_to(ROOT)}")
