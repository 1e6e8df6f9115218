"""`ssmlab run`: execute the notebooks in order with papermill, headless, into an output folder.

- The notebooks are `notebooks/NN_*.ipynb` next to the package (an editable install from
  the repository); a notebook added later (say `10_cost`) is picked up by its name.
- One `python3` kernel per run, started in `notebooks/`; between notebooks its namespace is
  reset (`%reset -f`), so each notebook starts from nothing but imported modules stay warm —
  kernel start-up is paid once, not once per notebook. `--only NN` runs one notebook in a
  fresh kernel, which is how the tests prove each notebook stands alone.
- Each notebook gets the run's `lab_name`, `region`, `target` and `pictures_dir`, and
  `solutions=True` (each exercise's solution applied, so a headless run proves every exercise
  solvable and its check passing) — those its `parameters` cell declares — a timeout per cell and one per notebook (enforced as the
  cell's timeout, never longer than what is left of the notebook's), and its executed copy
  is written to the output folder, the diagrams to `<output>/pictures/`.
- After a failure the remaining notebooks are skipped, except the cleanup notebook (unless
  `keep`), so a failed run on a real account leaves nothing billed behind. The cleanup notebook
  gets at least the target's default timeouts (`cleanup_timeouts`), and when it fails all the
  same the library's own cleanup removes the lab (`ssmlab.teardown.fallback`).
- A cell that runs out of time is interrupted and named as such (`ssmlab.celltime`); the
  kernel is restarted before the next notebook, since the interrupted code may still hold it.
"""

from __future__ import annotations

import logging
import math
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ssmlab.errors import BadInput
from ssmlab.lab import Lab
from ssmlab.run_kernel import KERNEL_NAME, RunKernel

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
CLEANUP_SUFFIX = "_cleanup"  # the cleanup notebook, whatever its number (11_cleanup): `is_cleanup`
PARAMETERS = ("lab_name", "region", "target", "pictures_dir", "solutions")
# (per cell, per notebook) in seconds: the emulator answers in milliseconds; AWS takes minutes
# (endpoints becoming available, a node registering, instances terminating).
DEFAULT_TIMEOUTS = {"emulator": (120.0, 600.0), "aws": (1200.0, 3600.0)}
OK, FAILED, SKIPPED = "ok", "FAILED", "skipped"


@dataclass(frozen=True)
class Failure:
    """Where a notebook stopped: the cell's 1-based position in the source notebook, its first line, the error."""

    cell: int | None
    first_line: str
    error: str
    timed_out: bool = False

    def describe(self) -> str:
        where = f"cell {self.cell}" if self.cell else "a cell"
        return f"{where} ({self.first_line!r}): {self.error}" if self.first_line else f"{where}: {self.error}"


@dataclass(frozen=True)
class NotebookRun:
    name: str  # "05_instance"
    status: str  # ok | FAILED | skipped
    seconds: float = 0.0
    output: Path | None = None
    failure: Failure | None = None
    recorded: dict[str, Any] = field(default_factory=dict)
    removal: Any = None  # teardown.fallback.Fallback: the cleanup that stood in for a failed cleanup notebook


# -- finding and choosing notebooks ---------------------------------------------------------


def notebooks_dir() -> Path:
    """`notebooks/` beside the package, as in the repository (ssmlab installed editable)."""
    import ssmlab

    folder = Path(ssmlab.__file__).resolve().parent.parent / "notebooks"
    if not folder.is_dir() or not discover(folder):
        raise BadInput(f"no notebooks found in {folder}: `ssmlab run` needs the repository checkout "
                       "with ssmlab installed from it (pip install -e .)")
    return folder


def discover(folder: Path) -> list[Path]:
    """The lab's notebooks, in order: NN_name.ipynb."""
    return sorted(folder.glob(NOTEBOOK_GLOB))


def is_cleanup(name: str) -> bool:
    """Whether the notebook named `name` (its stem) is the cleanup notebook, run even after a failure."""
    return name.endswith(CLEANUP_SUFFIX)


def select(notebooks: Sequence[Path], only: Iterable[str] = (), keep: bool = False) -> list[Path]:
    """The notebooks to run: all (or those numbered in `only`), without the cleanup notebook when `keep`."""
    numbers = {p.name[:2]: p for p in notebooks}
    wanted = []
    for item in only:
        text = str(item).strip()
        number = text.zfill(2) if text.isdigit() and len(text) <= 2 else text
        if number not in numbers:
            raise BadInput(f"invalid notebook {item!r}: expected the two-digit number of a notebook, "
                           f"one of {', '.join(sorted(numbers))}")
        wanted.append(number)
    chosen = [p for p in notebooks if not wanted or p.name[:2] in wanted]
    chosen = [p for p in chosen if not (keep and is_cleanup(p.stem))]
    if not chosen:
        raise BadInput(f"invalid choice --only {' '.join(wanted)} with --keep: no notebook left to run")
    return chosen


def unique_lab_name(now: datetime | None = None) -> str:
    """A lab name of the run's own, e.g. run-1129-144951-3f (valid: 24 characters at most)."""
    now = now or datetime.now()
    return f"run-{now:%m%d-%H%M%S}-{secrets.token_hex(1)}"


def timeouts(target: str, cell: float | None = None, notebook: float | None = None) -> tuple[float, float]:
    default_cell, default_notebook = DEFAULT_TIMEOUTS[target]
    for value, what in ((cell, "cell"), (notebook, "notebook")):
        if value is not None and not value > 0:
            raise BadInput(f"invalid {what} timeout {value!r}: expected a positive number of seconds")
    return cell or default_cell, notebook or default_notebook


def cleanup_timeouts(target: str, cell: float, notebook: float) -> tuple[float, float]:
    """The cleanup notebook's timeouts: the target's defaults, or the run's own where they are longer.

    The cleanup is what stops the billing. A --cell-timeout short enough to catch a slow build step
    (or one that just killed it) must not kill the teardown too, whose waits (instances terminating,
    endpoints deleting) take minutes on AWS; longer timeouts given for a slow account are kept."""
    default_cell, default_notebook = DEFAULT_TIMEOUTS[target]
    return max(cell, default_cell), max(notebook, default_notebook)


# -- running -----------------------------------------------------------------------------------


Progress = Callable[[int, int, str, "NotebookRun | None"], None]


def run(
    lab: Lab,
    notebooks: Sequence[Path],
    output_dir: Path | str = "build",
    *,
    cell_timeout: float | None = None,
    notebook_timeout: float | None = None,
    progress: Progress | None = None,
    say: Callable[[str], None] | None = None,
    alone: bool = False,
) -> list[NotebookRun]:
    """Execute `notebooks` in order against `lab`; one NotebookRun each, in order.

    `alone`: each notebook against a fresh lab of its own, named `<lab>-<NN>`, as if a learner opened
    it first (the proof that no notebook relies on what an earlier one built); still one kernel, reset
    between notebooks, and a failure skips nothing (the notebooks do not depend on each other).

    `progress(n, total, name, None)` is called as a notebook starts, `progress(n, total, name, result)` as it ends;
    `say(line)`, when given, hears about the teardown that stands in for a failed cleanup notebook (and its
    deletions are printed, as `ssmlab cleanup` prints them).
    """
    if not notebooks:
        raise BadInput("no notebook to run: expected at least one notebook (check --only and --keep)")
    per_cell, per_notebook = timeouts(lab.target, cell_timeout, notebook_timeout)
    output = Path(output_dir).resolve()
    output.mkdir(parents=True, exist_ok=True)
    pictures = output / "pictures"
    pictures.mkdir(exist_ok=True)
    values = {"region": lab.region, "target": lab.target, "pictures_dir": str(pictures), "solutions": True}
    folder = Path(notebooks[0]).resolve().parent
    results: list[NotebookRun] = []
    failed = restart = False
    _quiet_papermill()
    _import_papermill_meanwhile()
    with RunKernel(folder, output / "kernel.log") as kernel:
        for number, notebook in enumerate(notebooks, start=1):
            name = Path(notebook).stem
            cleanup = is_cleanup(name)
            notebook_lab = replace(lab, name=f"{lab.name}-{name[:2]}") if alone else lab
            if failed and not cleanup and not alone:
                results.append(NotebookRun(name, SKIPPED))
                if progress:
                    progress(number, len(notebooks), name, results[-1])
                continue
            if progress:
                progress(number, len(notebooks), name, None)
            result = _execute(kernel, Path(notebook), output / Path(notebook).name,
                              {**values, "lab_name": notebook_lab.name}, per_cell, per_notebook,
                              restart=restart, cleanup=cleanup)
            failed = failed or result.status == FAILED
            restart = bool(result.failure and result.failure.timed_out)
            if progress:
                progress(number, len(notebooks), name, result)
            if cleanup and result.status == FAILED:
                from ssmlab.teardown.fallback import fallback

                result = replace(result, removal=fallback(notebook_lab, name, say))
            results.append(result)
    return results


def _import_papermill_meanwhile() -> None:
    """Import papermill in the background while the kernel starts (mostly a wait on another process).
    The first notebook's own import waits for it to finish, or reports its error.

    nbformat's validator imports jsonschema, which loads rfc3987_syntax when it is installed (JupyterLab's
    jupyter-events asks for it) for its "iri" format checker, and that module builds a parser on import:
    about 1 s of CPU (measured). nbformat never checks formats, so the run leaves that module out, and
    jsonschema leaves that one checker out (its own fallback when the module is missing)."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # before any thread may import jsonschema
    # The kernel's manager is imported here first: the run needs it at once, and papermill imports it too, so two
    # threads importing jupyter_client's circular package at the same moment could meet it half initialised
    # (ImportError "partially initialized module 'jupyter_client.manager'", seen under pytest-xdist).
    import jupyter_client.manager  # noqa: F401

    def load() -> None:
        try:
            import papermill.engines  # noqa: F401
        except Exception:  # pragma: no cover - raised again where papermill is used
            pass

    threading.Thread(target=load, name="ssmlab-run-imports", daemon=True).start()


def _quiet_papermill() -> None:
    """nbclient logs a timeout ("Timeout waiting for execute reply", "Interrupting kernel") to papermill's
    logger; with logging left unconfigured (the command line) Python's last-resort handler prints that on
    stderr. The run names the timeout in its own line, so a NullHandler takes it; configured logging still
    gets it."""
    logger = logging.getLogger("papermill")
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _execute(kernel: RunKernel, source: Path, destination: Path, values: dict, per_cell: float,
             per_notebook: float, restart: bool = False, cleanup: bool = False) -> NotebookRun:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from ssmlab import engine
    from ssmlab.celltime import CellClock
    from ssmlab.notebook import recorded

    declared = set(papermill.inspect_notebook(str(source)))
    parameters = {k: v for k, v in values.items() if k in declared}
    if cleanup:
        per_cell, per_notebook = cleanup_timeouts(values["target"], per_cell, per_notebook)
        clock = CellClock(per_cell, per_notebook, f"{per_cell:g} s (the cleanup notebook's cell timeout)",
                          f"{per_notebook:g} s (the cleanup notebook's timeout)")
    else:
        clock = CellClock(per_cell, per_notebook, f"--cell-timeout {per_cell:g} s", f"--notebook-timeout {per_notebook:g} s")
    started = time.monotonic()
    failure = None
    try:
        kernel.reset(restart=restart)
        papermill.execute_notebook(
            str(source), str(destination), parameters=parameters, kernel_name=KERNEL_NAME, engine_name=engine.name(),
            cwd=str(source.parent), progress_bar=False, km=kernel.manager, kc=kernel.client,
            execution_timeout=max(1, math.ceil(per_cell)),  # nbclient's own waits (kernel info); cells: the clock
            **clock.client_options(),
        )
    except PapermillExecutionError as error:
        failure = Failure(_source_position(source, error.cell_index), _first_line(error.source),
                          _last_line(error.ename, error.evalue))
    except Exception as error:  # a dead kernel, a notebook that cannot be read: still one line
        failure = Failure(None, "", _last_line(type(error).__name__, str(error)))
    if clock.timed_out:  # whatever papermill made of the interrupted cell, it ran out of time
        out = clock.timed_out
        failure = Failure(_source_position(source, out.cell_index), _first_line(out.source), out.reason, timed_out=True)
    seconds = time.monotonic() - started
    values_recorded = recorded(destination) if destination.exists() else {}
    return NotebookRun(source.stem, FAILED if failure else OK, seconds, destination, failure, values_recorded)


def _source_position(source: Path, executed_index: int) -> int | None:
    """1-based position in the source notebook of the executed notebook's cell (papermill inserts one cell)."""
    import nbformat

    cells = nbformat.read(str(source), as_version=4).cells
    parameters = next((i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if parameters is None or executed_index <= parameters:
        return executed_index + 1
    if executed_index == parameters + 1:
        return None  # the injected parameters themselves
    return executed_index  # (executed_index - 1) + 1


def _last_line(name: str, message: str) -> str:
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return f"{name}: {lines[-1]}" if lines else name


def _first_line(source: str) -> str:
    lines = [line.strip() for line in (source or "").splitlines() if line.strip() and not line.strip().startswith("#")]
    line = lines[0] if lines else ""
    return line if len(line) <= 80 else line[:77] + "..."


# -- what the command prints -------------------------------------------------------------------


def progress_line(number: int, total: int, name: str, result: NotebookRun | None) -> str:
    width = len(str(total))
    if result is None:
        return f"[{number:>{width}}/{total}] {name} ..."
    tail = f"  {result.failure.describe()}" if result.failure else ""
    seconds = "" if result.status == SKIPPED else f"{result.seconds:6.1f}s"
    return f"[{number:>{width}}/{total}] {name:<24} {result.status:<7} {seconds}{tail}".rstrip()


def table(results: Sequence[NotebookRun]) -> str:
    """notebook / status / time, and the total."""
    width = max([len("notebook")] + [len(r.name) for r in results])
    lines = [f"  {'notebook':<{width}}  {'status':<7}  {'time':>7}", f"  {'-' * width}  {'-' * 7}  {'-' * 7}"]
    lines += [f"  {r.name:<{width}}  {r.status:<7}  {'' if r.status == SKIPPED else f'{r.seconds:6.1f}s':>7}" for r in results]
    lines.append(f"  {'total':<{width}}  {'':<7}  {sum(r.seconds for r in results):6.1f}s")
    return "\n".join(lines)


def failure_lines(results: Sequence[NotebookRun], lab: Lab | None = None) -> list[str]:
    """One line per failed notebook: which notebook, which cell, what error (or which timeout), where the
    executed copy is; then, given the lab, the command that removes what a failed run left of it."""
    lines = [f"{r.name} {'timed out' if r.failure.timed_out else 'failed'} at {r.failure.describe()} "
             f"(executed notebook: {r.output})" for r in results if r.status == FAILED and r.failure]
    if lab is not None and lines:
        from ssmlab.teardown.fallback import left_line

        cleanup = next((r for r in results if is_cleanup(r.name)), None)
        left = left_line(lab, cleanup.removal if cleanup else None, ran_cleanup=cleanup is not None)
        lines += [left] if left else []
    return lines

