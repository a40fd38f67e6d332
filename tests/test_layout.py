"""The import rules of the layout, read from the source (ast), not from what happens to be imported at run time.

- No import cycle between the modules of ``bot``, ``storage`` and ``adapters`` (lazy and TYPE_CHECKING imports
  count: they are dependencies too).
- ``bot`` imports no platform SDK, no aiohttp, no SQLite library, and neither ``storage`` nor ``adapters``.
- ``storage`` imports nothing of ``adapters`` nor of the platforms.
- Each platform package (``adapters.slack``, ``adapters.teams``) imports nothing of ``storage`` and, of
  ``adapters``, only its own modules: it gets the services it uses, never the runtime.
- No module of those packages is longer than MAX_LINES.
- The README's layout tree lists every module of those packages, and nothing that does not exist.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "storage", "adapters")
MAX_LINES = 400  # ~300 is the aim; past 400 a module holds more than one concern (split it, or raise this here)

PLATFORMS = ("slack_bolt", "slack_sdk", "botbuilder", "botframework")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "bot": (*PLATFORMS, "aiohttp", "sqlite3", "sqlite_utils", "storage", "adapters"),
    "storage": (*PLATFORMS, "aiohttp", "adapters"),
    "adapters.slack": ("storage", "botbuilder", "botframework"),
    "adapters.teams": ("storage", "slack_bolt", "slack_sdk"),
}
# Of ``adapters``, a platform package may import only itself.
SELF_CONTAINED = ("adapters.slack", "adapters.teams")


@dataclass(frozen=True, slots=True)
class Import:
    importer: str
    imported: str  # the full dotted name, as written (resolved when relative)
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    return {module_name(p, root): p for package in packages for p in sorted((root / package).rglob("*.py"))}


def imports_of(name: str, path: Path) -> Iterator[Import]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package of this module, going up level - 1 packages
                package = name.split(".") if is_package else name.split(".")[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield Import(name, f"{base}.{alias.name}" if base else alias.name, node.lineno)


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def target(imported: str, modules: Iterable[str]) -> str | None:
    """The module of ours an import names: the longest known module the dotted name starts with."""
    found = [m for m in modules if within(imported, m)]
    return max(found, key=len) if found else None


def import_graph(files: dict[str, Path]) -> tuple[dict[str, set[str]], list[Import]]:
    graph: dict[str, set[str]] = {name: set() for name in files}
    every: list[Import] = []
    for name, path in files.items():
        for imp in imports_of(name, path):
            every.append(imp)
            module = target(imp.imported, files)
            if module is not None and module != name:
                graph[name].add(module)
    return graph, every


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(files: dict[str, Path], imports: Iterable[Import]) -> list[str]:
    found = []
    for imp in imports:
        for package, banned in FORBIDDEN.items():
            if within(imp.importer, package):
                hit = next((b for b in banned if within(imp.imported, b)), None)
                if hit is not None:
                    found.append(f"{files[imp.importer]}:{imp.line}: {imp.importer} imports {imp.imported}")
        for package in SELF_CONTAINED:
            if within(imp.importer, package) and within(imp.imported, "adapters") and not within(imp.imported, package):
                found.append(f"{files[imp.importer]}:{imp.line}: {imp.importer} imports {imp.imported}")
    return found


# -- the rules, on this repository ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project() -> tuple[dict[str, Path], dict[str, set[str]], list[Import]]:
    files = source_files(ROOT, PACKAGES)
    graph, every = import_graph(files)
    return files, graph, every


def test_the_walk_sees_every_package_and_the_imports_between_them(project) -> None:
    files, graph, _ = project
    assert {"bot", "storage", "adapters", "bot.ports", "storage.repository", "adapters.runtime"} <= set(files)
    assert {"storage.capture", "storage.queries"} <= graph["storage.repository"]
    assert "storage.repository" in graph["adapters.runtime"]


def test_no_import_cycle(project) -> None:
    _, graph, _ = project
    assert cycles(graph) == []


def test_import_rules(project) -> None:
    files, _, every = project
    assert violations(files, every) == []


def test_no_module_is_too_long_to_read_in_one_sitting(project) -> None:
    files, _, _ = project
    long = {name: n for name, path in files.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def readme_tree(readme: str) -> set[str]:
    """The paths of the README's layout tree (two spaces of indent per level), e.g. ``adapters/slack/mapping.py``."""
    block = readme.split("\nLayout (", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    stack: list[str] = []
    paths = set()
    for line in block.splitlines():
        depth = (len(line) - len(line.lstrip())) // 2
        stack[depth:] = [line.split()[0]]
        paths.add("".join(stack))
    return paths


def test_the_readme_layout_tree_matches_the_code(project) -> None:
    files, _, _ = project
    listed = readme_tree((ROOT / "README.md").read_text(encoding="utf-8"))
    modules = {str(path.relative_to(ROOT)) for path in files.values() if path.name != "__init__.py"}
    assert {p for p in listed if p.endswith(".py") and p.startswith(PACKAGES)} == modules
    assert sorted(p for p in listed if not (ROOT / p).exists()) == []


# -- the checker itself finds what it is meant to find --------------------------------------------------------------


def write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return source_files(root, PACKAGES)


def test_a_cycle_through_a_lazy_import_is_found(tmp_path: Path) -> None:
    files = write(
        tmp_path,
        {
            "bot/__init__.py": "",
            "storage/__init__.py": "",
            "adapters/__init__.py": "",
            "adapters/runtime.py": "def build():\n    from adapters.slack.adapter import SlackAdapter\n",
            "adapters/slack/__init__.py": "",
            "adapters/slack/adapter.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from adapters.runtime import Runtime\n",
            "adapters/slack/mapping.py": "from . import adapter\n",
        },
    )
    graph, every = import_graph(files)
    assert graph["adapters.slack.mapping"] == {"adapters.slack.adapter"}  # a relative import, resolved
    assert cycles(graph) == [["adapters.runtime", "adapters.slack.adapter"]]
    assert violations(files, every) == [
        f"{files['adapters.slack.adapter']}:3: adapters.slack.adapter imports adapters.runtime.Runtime"
    ]


def test_the_readme_tree_is_read_by_indentation() -> None:
    readme = "text\n\nLayout (one way):\n\n```text\nbot/   core\n  a.py   x\nadapters/\n  slack/\n    m.py  y\n```\n"
    assert readme_tree(readme) == {"bot/", "bot/a.py", "adapters/", "adapters/slack/", "adapters/slack/m.py"}


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("bot/summary.py", "import sqlite3"),
        ("bot/summary.py", "from storage.repository import Repository"),
        ("bot/summary.py", "from slack_sdk.web.async_client import AsyncWebClient"),
        ("bot/summary.py", "from aiohttp import web"),
        ("bot/summary.py", "import botframework.connector"),
        ("storage/db.py", "from adapters.runtime import Runtime"),
        ("adapters/teams/poster.py", "from storage.repository import Repository"),
        ("adapters/teams/poster.py", "from adapters.slack.render import card_text"),
    ],
)
def test_a_forbidden_import_is_found(tmp_path: Path, module: str, line: str) -> None:
    files = write(tmp_path, {"bot/__init__.py": "", "storage/__init__.py": "", module: f"{line}\n"})
    _, every = import_graph(files)
    assert len(violations(files, every)) == 1


def test_allowed_imports_pass(tmp_path: Path) -> None:
    files = write(
        tmp_path,
        {
            "bot/summary.py": "from bot.model import WeekTotals\nimport json\n",
            "storage/db.py": "import sqlite3\nfrom sqlite_utils import Database\nfrom bot.errors import StorageError\n",
            "adapters/slack/adapter.py": "from adapters.slack.mapping import event_from_slack\nimport slack_bolt\n",
            "adapters/runtime.py": "from storage.repository import Repository\nfrom adapters.slack import adapter\n",
        },
    )
    graph, every = import_graph(files)
    assert violations(files, every) == []
    assert cycles(graph) == []
