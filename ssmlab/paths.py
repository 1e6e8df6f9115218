"""Where the commands write (`run --output-dir`, `cost --plot`), checked before any work starts.

A bad path is bad input: one line naming the value and the accepted form, exit 2, nothing
created — not a traceback after the notebooks ran or the prices were fetched. A folder that
does not exist yet is fine when it can be created; it is created only once everything else
was accepted, just before the first write (`Output.make`), and the command says so.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

FOLDER_FORM = "a folder that exists or can be created, and that you can write to"


@dataclass(frozen=True)
class Output:
    """A checked output path: the file or folder to write, and the folder to create first (if any)."""

    path: Path
    folder: Path  # where the output goes: `path` itself for a folder, its parent for a file

    def make(self, what: str) -> str | None:
        """Create the folder if it is missing; then the line that says so (`created build/ for the
        executed notebooks`), else None."""
        if self.folder.is_dir():
            return None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # it changed since the check
            raise _bad("folder", str(self.folder), error.strerror or str(error), FOLDER_FORM) from None
        return f"created {str(self.folder).rstrip('/')}/ for {what}"


def output_dir(value: str, option: str = "--output-dir") -> Output:
    """A folder to write into: an existing, writable folder, or one that can be created."""
    if not value:
        raise _bad(option, value, "empty", FOLDER_FORM)
    path = Path(value)
    problem = _folder_problem(path)
    if problem:
        raise _bad(option, value, problem, FOLDER_FORM)
    return Output(path, path)


def output_file(value: str, option: str, suffixes: tuple[str, ...]) -> Output:
    """A file to write (replaced if it exists) with one of `suffixes`, in a folder as for `output_dir`."""
    form = f"a file name ending in {_alternatives(suffixes)}, in {FOLDER_FORM}"
    if not value:
        raise _bad(option, value, "empty", form)
    path = Path(value)
    if path.is_dir():
        raise _bad(option, value, "it is a folder", form)
    if path.suffix.lower() not in suffixes:
        raise _bad(option, value, f"the suffix {path.suffix!r} is not one ssmlab writes" if path.suffix
                   else "it has no file suffix", form)
    if path.exists() and not os.access(path, os.W_OK):
        raise _bad(option, value, "the file cannot be written", form)
    problem = _folder_problem(path.parent)
    if problem:
        raise _bad(option, value, problem, form)
    return Output(path, path.parent)


def _folder_problem(folder: Path) -> str | None:
    """Why files cannot be written into `folder`, or into it once created; None if they can."""
    existing = folder
    while not _exists(existing):  # climb to the first part that exists (at worst "." or "/")
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:  # a real write, not os.access: that says yes to root on a read-only or virtual file system
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        return f"{existing} cannot be written to ({error.strerror or error})"
    return None


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink() or path == path.parent


def _alternatives(suffixes: tuple[str, ...]) -> str:
    return suffixes[0] if len(suffixes) == 1 else f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"


def _bad(option: str, value: str, problem: str, form: str):
    from ssmlab.errors import BadInput

    return BadInput(f"invalid {option} {value!r}: {problem}; expected {form}")

