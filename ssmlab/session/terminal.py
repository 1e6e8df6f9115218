"""`ssmlab connect`'s terminal: a raw tty wired to a Shell, or stdin line by line when it is not a terminal.

On a terminal, as the plugin does (`shellsession_unix.go`, `shellsession.go`): the local echo is off — the
instance's pty echoes — every keystroke goes out as typed (Ctrl-C and Ctrl-D too: the remote pty acts on
them), the window size is sent at start and on SIGWINCH. Without a terminal each line is run in turn and
printed as a terminal would show it (prompt, the line, its output), so scripts and tests can drive it.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, TextIO

from ssmlab.session.client import ChannelClosed, Shell


def exiting(session_id: str, output: str) -> str:
    """What the plugin prints when the channel closes (streaming.go, HandleChannelClosedMessage)."""
    if output:
        return f"\n\nSessionId: {session_id} : {output}\n\n"
    return f"\n\nExiting session with sessionId: {session_id}.\n\n"


def run_lines(shell: Shell, lines: TextIO, out: TextIO) -> str:
    """Each line of `lines` through the shell; the channel's closing words."""
    out.write(shell.prompt)
    out.flush()
    try:
        for line in lines:
            line = line.rstrip("\r\n")
            out.write(line + "\n")
            if line.strip() == "exit":
                break
            output, _ = shell.run(line)
            out.write(output + shell.prompt)
            out.flush()
        return shell.close()
    except ChannelClosed as closed:
        shell.close()
        return closed.output


def run_tty(shell: Shell, fd: int, out: Any) -> str:
    """Raw mode until the channel closes; the channel's closing words."""
    import signal
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    done = threading.Event()
    closing: list[str] = []

    def pump() -> None:
        try:
            while True:
                for message in shell.receive(0.5):
                    out.write(message.payload)
                    out.flush()
        except ChannelClosed as closed:
            closing.append(closed.output)
        finally:
            done.set()

    def resize(*_: Any) -> None:
        size = os.get_terminal_size(fd)
        shell.resize(size.columns, size.lines)

    previous = signal.signal(signal.SIGWINCH, resize)
    out.write(shell.prompt.encode())
    out.flush()
    try:
        tty.setraw(fd)
        resize()
        reader = threading.Thread(target=pump, name="ssmlab-connect", daemon=True)
        reader.start()
        while not done.is_set():
            data = os.read(fd, 1024)
            if not data or done.is_set():
                break
            try:
                shell.send_keys(data)
            except ChannelClosed:
                break
        done.wait(5)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGWINCH, previous)
        shell.ws.close()
    return closing[0] if closing else ""


def interact(shell: Shell, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """A terminal session on `shell` until exit (Ctrl-D or `exit`); 0."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    if stdin.isatty() and stdout.isatty():
        output = run_tty(shell, stdin.fileno(), stdout.buffer)
    else:
        output = run_lines(shell, stdin, stdout)
    stdout.write(exiting(shell.session_id, output))
    stdout.flush()
    return 0
