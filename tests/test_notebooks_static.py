"""The notebooks as committed: valid, without outputs, kernel python3, one commented `parameters`
cell, the opening sections, and a checkpoint at the end. No kernel, no emulator: fast."""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
REQUIRED_PARAMETERS = ("lab_name", "region", "target")
OPENING = ("Learning objectives", "Time to complete", "Prerequisites", "Target")


def test_the_lab_notebooks_are_there_in_order():
    numbers = [p.name[:2] for p in PATHS]
    assert {"00", "01", "02", "03", "04", "05", "06", "07", "08", "10"} <= set(numbers)
    assert numbers == sorted(set(numbers)), "one notebook per number"


@pytest.fixture(params=PATHS, ids=[p.stem for p in PATHS])
def notebook(request):
    return request.param, nbformat.read(str(request.param), as_version=4)


def test_valid_and_committed_without_outputs(notebook):
    _, nb = notebook
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_exactly_one_parameters_cell_with_a_comment_per_parameter(notebook):
    path, nb = notebook
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for line in tagged[0].source.splitlines():  # plain assignments only: derived values go in a later cell
        assert re.fullmatch(r"\w+(: *\w+)? *= *[^#]+ +# .+", line), line
    inferred = papermill.inspect_notebook(str(path))
    assert set(REQUIRED_PARAMETERS) <= set(inferred)
    assert all(p["help"].strip() for p in inferred.values()), inferred


def test_opens_with_objectives_time_prerequisites_and_the_target(notebook):
    _, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    for section in OPENING:
        assert section in first.source, section
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    assert "notebook.start(lab_name, region, target)" in nb.cells[index + 1].source  # target shown, cost banner on aws


def test_says_what_it_builds_and_bills_right_after_the_prerequisites(notebook):
    """A learner on a real account reads what running the notebook costs before running it."""
    _, nb = notebook
    lines = [line for line in nb.cells[0].source.splitlines() if line.strip()]
    at = next(i for i, line in enumerate(lines) if line.startswith("**Prerequisites:**"))
    said = lines[at + 1] if at + 1 < len(lines) else ""
    assert said.startswith("**Builds and bills:** ") and len(said) > len("**Builds and bills:** ") + 10, said
    assert "real account" in said and "emulator" in said, said  # what it bills on AWS, and nothing on the emulator


def test_ends_with_a_checkpoint_that_says_what_comes_next(notebook):
    _, nb = notebook
    last = [c for c in nb.cells if c.cell_type == "code"][-1].source
    assert re.search(r"notebook\.(checkpoint|audit)\(", last) and "next_step=" in last


def test_on_target_aws_the_banner_is_the_cost_warning_with_account_and_region():
    from ssmlab import banner
    from ssmlab.lab import Lab

    lab = Lab("banner", "eu-west-1", "aws")
    lab.__dict__["account_id"] = "123456789012"  # what sts:GetCallerIdentity would answer (cached_property)
    shown = banner.html(lab)
    assert shown.startswith('<div class="alert alert-warning">')
    assert "123456789012" in shown and "eu-west-1" in shown and html.escape(banner.hourly_cost_statement(lab)) in shown
    from ssmlab.steps.endpoints import services_for

    assert f"{len(services_for())} interface endpoints x 1 AZ = $0.022 per hour" in shown  # what the build creates


EXERCISE_HEADING = re.compile(r"^### Exercise (\d\d)\.(\d) · \S")


def _code(cell) -> list[str]:
    return [line for line in cell.source.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_every_lesson_has_exercises_laid_out_as_the_readme_says(notebook):
    """01-10: each exercise is a heading cell, the cell that prepares it, the learner's cell (runs as committed, doing
    nothing), the solution collapsed and run only with solutions=True, and a check cell; all tagged `exercise`."""
    path, nb = notebook
    number = path.name[:2]
    tagged = [(i, c) for i, c in enumerate(nb.cells) if "exercise" in c.metadata.get("tags", [])]
    headings = [(i, c) for i, c in tagged if c.cell_type == "markdown"]
    if not "01" <= number <= "10":
        assert not tagged
        return
    assert headings, f"{path.name} has no exercise"
    defaults = papermill.inspect_notebook(str(path))
    assert defaults["solutions"]["default"] == "False", "the learner solves them: solutions off by default"
    for k, (at, heading) in enumerate(headings, start=1):
        match = EXERCISE_HEADING.match(heading.source)
        assert match and match.groups() == (number, str(k)), heading.source[:60]
        assert "exercise.hint(1)" in heading.source and "exercise.hint(2)" in heading.source
        setup, answer, solution = nb.cells[at + 1: at + 4]
        assert all("exercise" in c.metadata.get("tags", []) for c in (setup, answer, solution))
        assert re.fullmatch(r"exercise = exercises\.\w+\(lab.*\)", _code(setup)[-1]), setup.source
        assert answer.source.startswith("# Your turn") and "solution" not in answer.metadata["tags"]
        assert all(re.fullmatch(r"\w+ = (None|lab\.client\(\"\w+\"\))|import \w+|document = .*|    .*|\]\}", line)
                   for line in (code.split("  # ")[0] for code in _code(answer))), answer.source  # as committed: only names set, nothing done
        assert "solution" in solution.metadata["tags"] and solution.metadata["jupyter"]["source_hidden"] is True
        assert _code(solution)[0] == "if solutions:" and all(line.startswith("    ") for line in _code(solution)[1:])
        end = headings[k][0] if k < len(headings) else len(nb.cells)
        checks = [c for c in nb.cells[at + 4: end] if "exercise" in c.metadata.get("tags", [])]
        assert len(checks) == 1 and re.fullmatch(r"exercise\.check\((answer|prediction)?\)", checks[0].source), checks
