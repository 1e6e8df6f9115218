"""The simulated instance behind a Session Manager shell: each line the learner types answered from the lab's
state. Pure: nothing is executed, no file is written, no socket opened — the host is never touched.

The shell is the agent's `sh` as ssm-user (see `host`). What it understands, decided here and named as the
simulation's own:
- simple commands: words split as sh splits them (quotes, backslashes), `$NAME`, `${NAME}` and `$?` expanded
  from a per-session table (HOME=/home/ssm-user as the agent sets it), `NAME=value`, `sudo CMD`, `# comments`;
- `NAME=$(CMD)` and NAME=`CMD` — the IMDSv2 token pattern of AWS's documentation — where CMD is one simple
  command answered by this simulation, its output (trailing newlines dropped) stored in the table;
- `A && B` and `A; B` between simple commands (AWS's IMDS example chains with `&&`).
Everything else sh would evaluate — a substitution anywhere else, `|`, `||`, `&`, `<`, `>`, `( )` — is refused
with one "# ssmlab:" line and status 2, and nothing runs. Unknown commands get sh's own "command not found"
(127). `exit` closes the session (Answer.closes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping

from ssmlab import amis
from ssmlab.instance import curl, diagnostics, dns, host
from ssmlab.instance.parse import ASSIGNMENT, NAME, Refused, Segment, Word, parse
from ssmlab.model import LabState

@dataclass(frozen=True)
class Answer:
    output: str  # what the terminal shows (stdout and stderr as a terminal interleaves them), "\n"-ended when non-empty
    exit_code: int
    closes: bool = False  # `exit`: the channel ends the session


@dataclass
class _Out:
    stdout: str = ""
    stderr: str = ""
    code: int = 0
    closes: bool = False


def _terminal(out: _Out) -> str:
    text = out.stderr + out.stdout
    return text if not text or text.endswith("\n") else text + "\n"


class SimulatedInstance:
    """One session's shell on one instance of `state`; `run` answers a line, `prompt` is what sh shows next."""

    def __init__(self, state: LabState, instance_id: str, *, files: Mapping[str, str] | None = None,
                 agent_version: str | None = None, user: str = "ssm-user", shell: str = "sh"):
        self.state = state
        self.instance = state.instance(instance_id)
        if self.instance is None:
            raise ValueError(f"{instance_id} is not in the lab's state")
        self.files = _file_texts(files)
        self.agent_version = agent_version
        self.user = user
        self.shell = shell  # "sh": the agent's session shell; "login" / "command": bash over SSH (`host.prompt`)
        self.os = host.os_of(state, self.instance)
        self.variables: dict[str, str] = {"HOME": "/root" if user == "root" else f"/home/{user}", "?": "0"}
        self.tokens: set[str] = set()
        image = state.image(self.instance.image_id)
        self.agent_present = amis.agent_status(image.name if image else "al2023-ami-") != amis.ABSENT
        self._commands: dict[str, Callable[[list[str], bool, bool], _Out]] = {
            "hostname": self._hostname, "whoami": self._whoami, "id": self._id, "uname": self._uname,
            "cat": self._cat, "tail": self._tail, "echo": self._echo, "systemctl": self._systemctl,
            "nslookup": self._nslookup, "dig": self._dig, "getent": self._getent, "curl": self._curl,
            "ssm-cli": self._ssm_cli, "exit": self._exit, "true": lambda *_: _Out(), "false": lambda *_: _Out(code=1),
        }

    @property
    def prompt(self) -> str:
        return host.prompt(self.os, self.user == "root", self.shell, self.user,
                           host.hostname(self.state, self.instance, self.os))

    def run(self, line: str) -> Answer:
        try:
            segments = parse(line)
        except Refused as refusal:
            self.variables["?"] = "2"
            return Answer(f"{dns.NOTE}{refusal} (nothing ran)\n", 2)
        shown, last = "", _Out()
        for segment in segments:
            if segment.joiner == "&&" and last.code != 0:
                continue
            last = self._segment(segment)
            shown += _terminal(last)
            self.variables["?"] = str(last.code)
            if last.closes:
                break
        return Answer(shown, last.code, last.closes)

    # -- evaluation --------------------------------------------------------------------------------------------

    def _segment(self, segment: Segment) -> _Out:
        words = segment.words
        if not words:
            return _Out()
        first = words[0]
        if first.substitution is not None:
            name = ASSIGNMENT.match(first.text)
            assert name is not None
            inner = parse(first.substitution)
            if len(inner) != 1 or not inner[0].words or any(w.substitution for w in inner[0].words):
                raise Refused("only one simple command is simulated inside $( )")
            out = self._simple([self._expand(w) for w in inner[0].words], captured=True)
            self.variables[name.group(1)] = out.stdout.rstrip("\n")
            return _Out("", out.stderr, out.code)
        texts = [self._expand(w) for w in words]
        while texts and (match := ASSIGNMENT.fullmatch(texts[0])) and NAME.fullmatch(match.group(1)):
            if len(texts) > 1:
                texts = texts[1:]  # NAME=value CMD: the value is for CMD's environment only (not simulated)
                continue
            self.variables[match.group(1)] = match.group(2)
            return _Out()
        return self._simple(texts, captured=False)

    def _expand(self, word: Word) -> str:
        return re.sub(r"\x00(\??[A-Za-z0-9_]*)\x00", lambda m: self.variables.get(m.group(1), ""), word.text)

    def _simple(self, argv: list[str], captured: bool, root: bool | None = None) -> _Out:
        root = self.user == "root" if root is None else root
        if not argv:
            return _Out()
        command, args = argv[0], argv[1:]
        if command == "sudo":
            if not args or args[0].startswith("-") or args[0] in ("su", "bash", "sh"):
                return _Out(stderr=f"{dns.NOTE}only `sudo COMMAND` is simulated (no interactive root shell)\n", code=1)
            return self._simple(args, captured, root=True)
        handler = self._commands.get(command)
        if handler is None:
            return _Out(stderr=host.not_found(self.os, command, self.shell), code=127)
        return handler(args, root, captured)

    # -- commands ----------------------------------------------------------------------------------------------

    def _hostname(self, args, root, captured) -> _Out:
        return _Out(host.hostname(self.state, self.instance, self.os) + "\n")

    def _whoami(self, args, root, captured) -> _Out:
        return _Out("root\n" if root else f"{self.user}\n")

    def _id(self, args, root, captured) -> _Out:
        text, code = host.ident("root" if root else self.user, " ".join(args) or None)
        return _Out(text, code=code) if code == 0 else _Out(stderr=text, code=code)

    def _uname(self, args, root, captured) -> _Out:
        text, code = host.uname(self.state, self.instance, self.os, args)
        return _Out(text, code=code) if code == 0 else _Out(stderr=text, code=code)

    def _echo(self, args, root, captured) -> _Out:
        if args[:1] == ["-n"]:
            return _Out(" ".join(args[1:]))
        return _Out(" ".join(args) + "\n")

    def _read(self, path: str, root: bool, tool: str) -> tuple[str | None, str]:
        if path == "/etc/hostname":
            return host.hostname(self.state, self.instance, self.os) + "\n", ""
        return host.read(path, self.files, self.os, root, tool)

    def _cat(self, args, root, captured) -> _Out:
        out = _Out()
        for path in args or ["-"]:
            if path == "-":
                return _Out(stderr=f"{dns.NOTE}cat without a file would wait for input; not simulated\n", code=2)
            text, error = self._read(path, root, "cat")
            out.stdout += text or ""
            out.stderr += error
            out.code = out.code or (1 if error else 0)
        return out

    def _tail(self, args, root, captured) -> _Out:
        count, paths, rest = 10, [], list(args)
        while rest:
            arg = rest.pop(0)
            if arg in ("-n", "--lines") and rest:
                arg = "-n" + rest.pop(0)
            if arg.startswith("-n") or re.fullmatch(r"-\d+", arg):
                digits = arg[2:] if arg.startswith("-n") else arg[1:]
                if not digits.lstrip("+").isdigit():
                    return _Out(stderr=f"tail: invalid number of lines: '{digits}'\n", code=1)
                count = int(digits.lstrip("+"))
            elif arg in ("-f", "-F", "--follow"):
                return _Out(stderr=f"{dns.NOTE}tail -f follows for ever; not simulated: use tail -n N\n", code=2)
            else:
                paths.append(arg)
        out = _Out()
        for path in paths:
            text, error = self._read(path, root, "tail")
            if text is not None:
                out.stdout += (f"==> {path} <==\n" if len(paths) > 1 else "") + host.tail(text, count)
            out.stderr += error
            out.code = out.code or (1 if error else 0)
        return out

    def _systemctl(self, args, root, captured) -> _Out:
        if len(args) != 2 or args[0] != "status":
            return _Out(stderr=f"{dns.NOTE}only `systemctl status UNIT` is simulated\n", code=2)
        text, code = host.systemctl_status(self.state, self.instance, self.os, args[1],
                                           self.files.get("amazon-ssm-agent.log"), self.agent_present)
        return _Out(text, code=code) if code == 0 else _Out(stderr=text, code=code)

    def _resolve(self, args, tool: str) -> tuple[dns.Lookup, str, bool] | _Out:
        names = [a for a in args if not a.startswith(("-", "+"))]
        if len(names) != 1:
            return _Out(stderr=f"{dns.NOTE}only `{tool} NAME` is simulated\n", code=2)
        stub = self.os.key != "al2"
        return (dns.lookup(self.state, self.instance, names[0], stub), dns.server(self.state, self.instance, stub), stub)

    def _nslookup(self, args, root, captured) -> _Out:
        found = self._resolve(args, "nslookup")
        if isinstance(found, _Out):
            return found
        text, code = dns.nslookup(found[0], found[1], found[2])
        return _Out(text, code=code)

    def _dig(self, args, root, captured) -> _Out:
        found = self._resolve(args, "dig")
        if isinstance(found, _Out):
            return found
        when = self.state.taken_at
        stamp = f"{when:%a %b %d %H:%M:%S} UTC {when:%Y}" if isinstance(when, datetime) else None
        text, code = dns.dig(found[0], found[1], "+short" in args, stamp)
        return _Out(text, code=code)

    def _getent(self, args, root, captured) -> _Out:
        if len(args) != 2 or args[0] not in ("hosts", "ahosts"):
            return _Out(stderr=f"{dns.NOTE}only `getent hosts NAME` is simulated\n", code=2)
        found = self._resolve(args[1:], "getent hosts")
        assert not isinstance(found, _Out)
        text, code = dns.getent(found[0])
        return _Out(text, code=code)

    def _curl(self, args, root, captured) -> _Out:
        request = curl.parse(args)
        if isinstance(request, str):
            return _Out(stderr=request + "\n", code=2)
        scheme, target, port, path = curl._split_url(request.url)
        if target == curl.IMDS:
            if scheme != "http":
                return _Out(stderr=f"curl: (7) Failed to connect to {target} port {port} after 0 ms: Couldn't connect to server\n", code=7)
            reply, token = curl.imds(self.state, self.instance, request, path, self.tokens, len(self.tokens))
            if token:
                self.tokens.add(token)
        else:
            reply = curl.https(self.state, self.instance, request, target, port, stub=self.os.key != "al2")
        meter = curl.meter(len(reply.stdout.encode())) if captured and reply.code == 0 and "s" not in request.flags else ""
        return _Out(reply.stdout, meter + reply.stderr, reply.code)

    def _ssm_cli(self, args, root, captured) -> _Out:
        text, code = diagnostics.run(self.state, self.instance, args, root, self.agent_version)
        return _Out(text, code=code)

    def _exit(self, args, root, captured) -> _Out:
        code = int(args[0]) % 256 if args and args[0].isdigit() else 0
        return _Out(code=code, closes=True)


def _file_texts(files) -> dict[str, str]:
    """The agent's files by name. Also takes the emulator's AgentFiles (`to_json()`: full path -> lines)."""
    if files is None:
        return {}
    if hasattr(files, "to_json"):
        return {path.rsplit("/", 1)[-1]: "".join(f"{line}\n" for line in lines) for path, lines in files.to_json().items()}
    return {name.rsplit("/", 1)[-1]: text for name, text in dict(files).items()}
