"""The three ways to install the kit (pip, conda, Binder) must ask for the same things."""

import re
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())


def _conda_and_pip():
    conda, pip = [], []
    for item in ENVIRONMENT["dependencies"]:
        if isinstance(item, dict):
            pip.extend(item["pip"])
        else:
            conda.append(item)
    return conda, pip


def test_environment_yml_installs_exactly_the_pyproject_dependencies_with_the_same_pins():
    _, pip = _conda_and_pip()
    declared = {Requirement(r).name.lower(): Requirement(r) for r in PYPROJECT["project"]["dependencies"]}
    listed = {Requirement(r).name.lower(): Requirement(r) for r in pip if not r.startswith("-e")}
    assert set(listed) == set(declared)
    for name, requirement in declared.items():
        assert listed[name].specifier == requirement.specifier, name
        assert listed[name].extras == requirement.extras, name
    assert "-e .[dev]" in pip, "conda users get the package itself, with the test extra"


def test_the_emulator_dependency_is_pinned_to_one_minor_series():
    moto = next(Requirement(r) for r in PYPROJECT["project"]["dependencies"] if r.startswith("moto"))
    assert "server" in moto.extras
    versions = ["5.2.5", "5.2.9", "5.3.0", "5.1.0", "6.0.0"]
    allowed = [v for v in versions if moto.specifier.contains(v)]
    assert allowed and len({v.rsplit(".", 1)[0] for v in allowed}) == 1


def test_python_and_graphviz_agree_across_conda_binder_and_pyproject():
    conda, _ = _conda_and_pip()
    python = next(c for c in conda if c.startswith("python"))
    conda_spec = SpecifierSet(re.sub(r"^python", "", python))
    project_spec = SpecifierSet(PYPROJECT["project"]["requires-python"])
    for version in ("3.9", "3.10", "3.11", "3.12", "3.13"):
        assert conda_spec.contains(version) == project_spec.contains(version), version
    assert "graphviz" in conda and "pip" in conda
    assert ENVIRONMENT["channels"] == ["conda-forge"]
    assert (ROOT / "apt.txt").read_text().split() == ["graphviz"]


def test_the_console_script_is_declared():
    assert PYPROJECT["project"]["scripts"]["ssmlab"] == "ssmlab.cli:main"
