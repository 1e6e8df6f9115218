"""Output paths (`cost --plot`, `run --output-dir`) are checked before any work: a bad one is one
line naming it, exit 2, nothing written; a missing folder is created and said."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ssmlab import paths
from ssmlab.errors import BadInput

SUFFIXES = (".png", ".svg", ".pdf")


def cost(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ssmlab.cli", "cost", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def one_line(done: subprocess.CompletedProcess, named: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.mark.parametrize("value, problem", [
    ("/etc/hostname/x.png", "/etc/hostname is a file, not a folder"),
    ("{tmp}", "it is a folder"),
    ("{tmp}/chart", "it has no file suffix"),
    ("{tmp}/chart.jpg", "the suffix '.jpg' is not one ssmlab writes"),
    ("/proc/chart.png", "/proc cannot be written to"),
    ("", "empty"),
])
def test_a_bad_plot_path_is_one_line_and_nothing_is_written(value, problem, tmp_path):
    value = value.format(tmp=tmp_path)
    line = one_line(cost("--plot", value), f"invalid --plot {value!r}: {problem}")
    assert line.endswith("expected a file name ending in .png, .svg or .pdf, in a folder that exists or can be "
                         "created, and that you can write to")
    assert list(tmp_path.iterdir()) == [] and not Path(f"{tmp_path}.png").exists()


def test_a_plot_in_a_missing_folder_creates_it_and_says_so(tmp_path):
    done = cost("--plot", "charts/cost.svg", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "created charts/ for the cost charts"
    assert (tmp_path / "charts" / "cost.svg").read_text().lstrip().startswith("<?xml")
    again = cost("--plot", "charts/cost.svg", "--json", cwd=tmp_path)  # there now: nothing said
    assert again.returncode == 0 and again.stderr == "" and again.stdout.startswith("{")


@pytest.mark.emulator
@pytest.mark.parametrize("value, problem", [
    ("/etc/hostname", "/etc/hostname is a file, not a folder"),
    ("/etc/hostname/build", "/etc/hostname is a file, not a folder"),
    ("/proc/ssmlab-build", "/proc cannot be written to"),
])
def test_a_bad_output_dir_stops_the_run_before_anything(emulator, value, problem):
    done = emulator.cli("run", "--only", "00", "--lab", "paths-bad", "--output-dir", value)
    line = one_line(done, f"invalid --output-dir {value!r}: {problem}")
    assert line.endswith("expected a folder that exists or can be created, and that you can write to")
    assert done.stdout == ""  # not even the banner: nothing started


def test_output_dir_accepts_existing_and_creatable_folders(tmp_path):
    assert paths.output_dir(str(tmp_path)).make("x") is None
    nested = paths.output_dir(str(tmp_path / "a" / "b"))
    assert not (tmp_path / "a").exists()  # checking creates nothing
    assert nested.make("the executed notebooks") == f"created {tmp_path}/a/b/ for the executed notebooks"
    assert (tmp_path / "a" / "b").is_dir()


def test_output_file_checks_the_existing_file_and_the_suffix(tmp_path):
    existing = tmp_path / "old.PNG"
    existing.write_bytes(b"")
    assert paths.output_file(str(existing), "--plot", SUFFIXES).path == existing  # replaced when written
    with pytest.raises(BadInput, match=r"invalid --plot '.*old\.PNG/y\.png': .*old\.PNG is a file, not a folder"):
        paths.output_file(str(existing / "y.png"), "--plot", SUFFIXES)
