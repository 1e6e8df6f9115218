"""The layers' rule, read from the source: the pure core imports the model and other pure modules, never the
edge (`aws`, `lab`, `inventory`, `steps`, the emulator, teardown's execution) nor boto3 — so every rule can be
unit-tested with hand-built states, and the emulator's agents can run the same rules over their own state."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "ssmlab"
PURE = {
    "ssmlab.model", "ssmlab.errors", "ssmlab.findings", "ssmlab.fixes", "ssmlab.netpath", "ssmlab.nacl",
    "ssmlab.sgrules", "ssmlab.policy", "ssmlab.registration", "ssmlab.doctor", "ssmlab.encryption",
    "ssmlab.node_status", "ssmlab.transcript", "ssmlab.hibernation", "ssmlab.amis", "ssmlab.kmskey", "ssmlab.learner",
    "ssmlab.preferences", "ssmlab.obstacles", "ssmlab.status", "ssmlab.whatif", "ssmlab.addressing",
    "ssmlab.diagram_scene", "ssmlab.diagram_breaks", "ssmlab.cost", "ssmlab.prices",
    "ssmlab.teardown.plan", "ssmlab.session.protocol", "ssmlab.session.portsession", "ssmlab.instance",
    "ssmlab.hostpath", "ssmlab.conditions", "ssmlab.exercises.judges", "ssmlab.exercises.verdict", "ssmlab.classroom",
}
NEVER = ("boto3", "botocore", "moto", "awscli")


def _module_file(name: str) -> Path:
    path = ROOT.parent / Path(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _files(name: str) -> list[Path]:
    path = ROOT.parent / Path(*name.split("."))
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def _imports(path: Path) -> list[str]:
    """Every module the file imports, at the top or inside a function (a late import is still an import)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def _is_pure(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in PURE)


@pytest.mark.parametrize("module", sorted(PURE))
def test_a_pure_module_imports_only_the_model_and_other_pure_modules(module):
    files = _files(module)
    assert files and all(f.exists() for f in files), f"{module} is listed as pure but does not exist"
    wrong = {}
    for path in files:
        for name in _imports(path):
            top = name.split(".")[0]
            from_ssmlab = name.startswith("ssmlab.") and not _is_pure(name) and not _is_pure(name.rsplit(".", 1)[0])
            if top in NEVER or from_ssmlab:
                wrong.setdefault(str(path.relative_to(ROOT.parent)), []).append(name)
    assert not wrong, f"the pure core reaches the edge: {wrong}"


def test_the_rule_catches_an_edge_import(tmp_path):
    edge = tmp_path / "m.py"
    edge.write_text("def f():\n    from ssmlab.lab import Lab\n    import boto3\n")
    names = _imports(edge)
    assert "ssmlab.lab" in names and "boto3" in names and not _is_pure("ssmlab.lab") and not _is_pure("ssmlab.inventory")


def test_no_module_is_longer_than_400_lines():
    """Small modules with one job; data tables (ssmlab/data) aside."""
    long = {str(p.relative_to(ROOT.parent)): n for p in ROOT.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
