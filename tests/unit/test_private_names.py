"""No module reaches into another module's private names (DESIGN §2, STYLE habit 16).

import-linter (pyproject.toml, run by `make test`) keeps the layers and forbids import
circles; this test covers what it cannot see: `from app.x import _name` and
`module._name` on a module of ours imported elsewhere. A shared need becomes a small
public module both import.
"""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"


def _module_of(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _reaches(source: str, here: str) -> list[str]:
    tree = ast.parse(source)
    modules: dict[str, str] = {}  # local name -> app module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
            for alias in node.names:
                if _private(alias.name) and node.module != here:
                    found.append(f"{here}: from {node.module} import {alias.name}")
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("app") and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and modules[node.value.id] != here
        ):
            found.append(f"{here}: {node.value.id}.{node.attr}")
    return found


def test_no_module_reaches_into_another_modules_private_names():
    found = [
        item
        for path in sorted(APP.rglob("*.py"))
        for item in _reaches(path.read_text(), _module_of(path))
    ]
    assert found == []


def test_the_check_sees_both_ways_of_reaching_in():
    source = (
        "from app.services.trading import execution\n"
        "from app.services.trading.locks import _locks\n"
        "execution._account_locks\n"
    )
    assert len(_reaches(source, "app.services.protection.kill_switch")) == 2
