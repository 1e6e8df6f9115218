"""Reading a command line as sh would — words, quotes, `$NAME` — and refusing what the simulated shell does not
evaluate (see `shell`). Pure: it only builds lists of words; nothing is run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)
BARE_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
ONLY_ASSIGNMENT = "command substitution is simulated only as NAME=$(COMMAND), alone or between && and ;"


class Refused(Exception):
    """A line the simulated shell will not evaluate; the message is the one line it prints."""


@dataclass
class Word:
    text: str = ""
    started: bool = False
    substitution: str | None = None  # NAME=$(…): the inner command line


@dataclass
class Segment:
    words: list[Word] = field(default_factory=list)
    joiner: str = ";"  # how it follows the previous segment: ";" or "&&"


_REFUSED = {"|": "pipes (|)", "<": "redirections (<)", ">": "redirections (>)", "(": "subshells ( )",
            ")": "subshells ( )", "&": "background jobs (&)", "`": "command substitution outside NAME=`…`"}


def parse(line: str) -> list[Segment]:
    segments, word, i = [Segment()], Word(), 0

    def end_word() -> None:
        nonlocal word
        if word.started:
            segments[-1].words.append(word)
        word = Word()

    while i < len(line):
        char = line[i]
        if char in " \t\r\n":
            end_word()
        elif char == "#" and not word.started:
            break
        elif char == "\\":
            i += 1
            if i < len(line):
                word.text += line[i]
                word.started = True
        elif char == "'":
            close = line.find("'", i + 1)
            if close < 0:
                raise Refused("unterminated quote (sh would wait for the rest)")
            word.text, word.started, i = word.text + line[i + 1:close], True, close
        elif char == '"':
            i = _double_quoted(line, i + 1, word, segments[-1])
        elif char == "$" or char == "`":
            i = _dollar(line, i, word, segments[-1]) - 1
        elif char == ";" or line.startswith("&&", i):
            end_word()
            segments.append(Segment(joiner="&&" if char == "&" else ";"))
            i += 1 if char == "&" else 0
        elif char in _REFUSED:
            what = "||" if line.startswith("||", i) else _REFUSED[char]
            raise Refused(f"{what} {'are' if what.endswith(')') or what.endswith('s') else 'is'} not simulated")
        else:
            word.text += char
            word.started = True
        i += 1
    end_word()
    for segment in segments:
        substituted = [w for w in segment.words if w.substitution is not None]
        if substituted and (len(segment.words) != 1 or not BARE_ASSIGNMENT.fullmatch(substituted[0].text)):
            raise Refused(ONLY_ASSIGNMENT)
    return [s for s in segments if s.words] or [Segment()]


def _double_quoted(line: str, i: int, word: Word, segment: Segment) -> int:
    """Reads up to the closing quote; returns its index."""
    word.started = True
    while i < len(line) and line[i] != '"':
        if line[i] == "\\" and i + 1 < len(line) and line[i + 1] in '"\\$`':
            word.text += line[i + 1]
            i += 2
        elif line[i] in "$`":
            i = _dollar(line, i, word, segment)
        else:
            word.text += line[i]
            i += 1
    if i >= len(line):
        raise Refused("unterminated quote (sh would wait for the rest)")
    return i


def _dollar(line: str, i: int, word: Word, segment: Segment) -> int:
    """A `$NAME`, `${NAME}`, `$?` (marked for expansion) or a substitution; returns the index after it."""
    word.started = True
    if line.startswith("$(", i) or line[i] == "`":
        close = _closing(line, i)
        inner = line[i + 2:close] if line[i] == "$" else line[i + 1:close]
        if not (BARE_ASSIGNMENT.fullmatch(word.text) and not segment.words and word.substitution is None):
            raise Refused(ONLY_ASSIGNMENT)
        word.substitution = inner
        return close + 1
    if line.startswith("${", i):
        close = line.find("}", i)
        if close < 0 or not NAME.fullmatch(line[i + 2:close]):
            raise Refused("only ${NAME} expansions are simulated")
        word.text += f"\x00{line[i + 2:close]}\x00"
        return close + 1
    if line.startswith("$?", i):
        word.text += "\x00?\x00"
        return i + 2
    match = NAME.match(line, i + 1)
    if match is None:
        word.text += "$"
        return i + 1
    word.text += f"\x00{match.group(0)}\x00"
    return match.end()


def _closing(line: str, i: int) -> int:
    """Where a `$(` or backtick substitution starting at `i` ends (quotes inside respected, no nesting)."""
    closer = ")" if line[i] == "$" else "`"
    j, quote = i + (2 if closer == ")" else 1), None
    while j < len(line):
        char = line[j]
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == closer:
            return j
        elif char == "(" or (char == "$" and line.startswith("$(", j)) or (char == "`" and closer == ")"):
            raise Refused("nested command substitution is not simulated")
        j += 1
    raise Refused("unterminated command substitution (sh would wait for the rest)")
