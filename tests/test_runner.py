"""`ssmlab run`'s engine on small notebooks of its own: order, one kernel, failures named by
notebook and cell, timeouts, cleanup after a failure, bad input. The lab notebooks themselves
run in test_notebooks.py."""

from __future__ import annotations

from datetime import datetime

import pytest

from builders import write_notebook
from ssmlab import cli, runner
from ssmlab.errors import BadInput
from ssmlab.lab import LAB_NAME_RE, Lab


RECORD = "from ssmlab import notebook\nnotebook.record('seen', {'lab': lab_name, 'leaked': 'leftover' in globals(), 'cwd': __import__('os').getcwd()})"


@pytest.fixture
def folder(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    write_notebook(notebooks, "00_first", "leftover = 1", RECORD)
    write_notebook(notebooks, "01_second", RECORD)
    write_notebook(notebooks, "02_fails", "x = 1", "# a comment first\nraise ValueError('the lab is broken\\nfor sure')", "never = 1")
    write_notebook(notebooks, "03_after", RECORD)
    write_notebook(notebooks, "10_cleanup", RECORD)
    return notebooks


LAB = Lab("runner-test", "ap-northeast-1", "emulator")  # never contacted: the notebooks here make no AWS call


def test_select_picks_numbers_and_keep_drops_the_cleanup(folder):
    found = runner.discover(folder)
    assert [p.stem for p in found] == ["00_first", "01_second", "02_fails", "03_after", "10_cleanup"]
    assert [p.stem for p in runner.select(found, ["1", "10"])] == ["01_second", "10_cleanup"]
    assert [p.stem for p in runner.select(found, [], keep=True)][-1] == "03_after"
    with pytest.raises(BadInput, match=r"invalid notebook '42': expected the two-digit number.*00, 01, 02, 03, 10"):
        runner.select(found, ["42"])
    with pytest.raises(BadInput, match="no notebook left"):
        runner.select(found, ["10"], keep=True)


def test_unique_lab_names_are_valid_and_differ():
    names = {runner.unique_lab_name(datetime(2026, 11, 29, 23, 59, 59)) for _ in range(20)}
    assert all(LAB_NAME_RE.fullmatch(n) for n in names) and len(names) > 1


def test_the_repository_notebooks_are_found():
    assert (runner.notebooks_dir() / "00_start_here.ipynb").exists()


def test_a_run_names_the_failing_cell_skips_the_rest_but_still_cleans_up(folder, tmp_path):
    seen = []
    results = runner.run(LAB, runner.discover(folder), tmp_path / "out",
                         progress=lambda n, total, name, r: seen.append((n, name, r and r.status)))
    assert [(r.name, r.status) for r in results] == [
        ("00_first", "ok"), ("01_second", "ok"), ("02_fails", "FAILED"), ("03_after", "skipped"), ("10_cleanup", "ok")]
    failure = results[2].failure
    assert (failure.cell, failure.first_line, failure.error) == (
        4, "raise ValueError('the lab is broken\\nfor sure')", "ValueError: for sure")
    # one kernel, started in the notebooks' folder, its namespace reset between notebooks
    assert results[0].recorded["seen"] == {"lab": "runner-test", "leaked": True, "cwd": str(folder)}
    assert results[1].recorded["seen"] == {"lab": "runner-test", "leaked": False, "cwd": str(folder)}
    assert (tmp_path / "out" / "02_fails.ipynb").exists() and (tmp_path / "out" / "pictures").is_dir()
    assert seen[0] == (1, "00_first", None) and seen[-1] == (5, "10_cleanup", "ok")
    table = runner.table(results)
    assert "02_fails" in table and "FAILED" in table and "total" in table
    assert runner.failure_lines(results) == [
        f"02_fails failed at cell 4 (\"raise ValueError('the lab is broken\\\\nfor sure')\"): ValueError: for sure "
        f"(executed notebook: {tmp_path / 'out' / '02_fails.ipynb'})"]


def test_a_notebook_out_of_time_fails_on_the_cell_that_ran_over(tmp_path):
    folder = tmp_path / "nb"
    folder.mkdir()
    write_notebook(folder, "00_slow", "import time", "time.sleep(60)")
    results = runner.run(LAB, runner.discover(folder), tmp_path / "out", notebook_timeout=2)
    assert results[0].status == "FAILED" and results[0].seconds < 30
    assert results[0].failure.first_line == "time.sleep(60)" and results[0].failure.timed_out
    assert results[0].failure.error == "the notebook ran longer than --notebook-timeout 2 s"


def test_bad_timeouts_are_bad_input():
    with pytest.raises(BadInput, match="invalid notebook timeout 0"):
        runner.timeouts("emulator", None, 0)
    assert runner.timeouts("aws") == runner.DEFAULT_TIMEOUTS["aws"]


def exit_code(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as done:  # argparse's own usage errors (an invalid --lab is one)
        return done.code


def test_bad_input_is_one_line_and_exit_2(capsys):
    for argv, named in ((["run", "--only", "42"], "'42'"), (["run", "--lab", "Bad_Name"], "'Bad_Name'"),
                        (["run", "--notebook-timeout", "-1"], "-1")):
        assert exit_code(argv) == 2, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and named in err, err


@pytest.mark.emulator
def test_the_command_prints_the_table_and_names_the_failure(emulator, folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "notebooks_dir", lambda: folder)
    code = cli.main(["run", "--only", "00", "--only", "02", "--keep", "--lab", "runner-cli",
                     "--output-dir", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 1
    assert "on the embedded emulator" in out and "00_first" in out and "FAILED" in out and "total" in out
    assert err.startswith("ssmlab: 02_fails failed at cell 4") and "ValueError: for sure" in err
