"""The agent's side of one shell session's data channel: keystrokes in, the terminal's echo and answers out.

Faithful to aws/amazon-ssm-agent: no handshake for the default shell without KMS (`agent/session/plugins/
sessionplugin`, RequireHandshake; FACTS.md); output_stream_data with PayloadType Output, its first flagged 1
(`agent/session/datachannel/datachannel.go`, SendStreamDataMessage); every input stream message
acknowledged, in order, resends re-acknowledged (handleStreamDataMessage); Size payloads carry the terminal's
{cols, rows} (`agent/session/shell/shell.go` sets the pty's size). The real agent runs the shell on a pty,
so the echo and the line editing come from the pty's line discipline; here `LineDiscipline` plays that part
(canonical mode with ECHO, ICRNL, ONLCR). Everything sent as Output — the prompt, the echo of what is typed,
the answers — is also kept in the session's `terminal`, as the agent's shell plugin copies what it sends to the
file it logs the session from (`agent/session/shell/shell.go`, processStdoutData); `session_log` writes it where
the preferences say when the session ends. The simulation's choices: a responder answers whole lines; after
each answer an ExitCode payload carries the line's exit status, which the real agent sends only for
non-interactive commands — it lets a client read `$?` without typing `echo $?` (`ssmlab.session.client`
relies on it only on the emulator); channel_closed, which AWS's service sends the client when the agent
ends the session, is sent from here.
"""

from __future__ import annotations

import codecs
import logging
import threading
from typing import Any, Callable

from ssmlab.session import protocol as wire

log = logging.getLogger("ssmlab.emulator.datachannel")


class LineDiscipline:
    """A pty's canonical mode: echo what is typed, edit the line, hand over whole lines."""

    def __init__(self) -> None:
        self.line = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, data: bytes) -> list[tuple[str, str]]:
        """Events in order: ("echo", text), ("line", text), ("interrupt", ""), ("eof", "")."""
        events: list[tuple[str, str]] = []
        for char in self._decoder.decode(data):
            if char in "\r\n":  # ICRNL: Enter arrives as \r; the echo of a newline is \r\n (ONLCR)
                events += [("echo", "\r\n"), ("line", self.line)]
                self.line = ""
            elif char in "\x7f\b":
                if self.line:
                    self.line = self.line[:-1]
                    events.append(("echo", "\b \b"))
            elif char == "\x03":  # VINTR: the shell gets SIGINT, drops the line, prompts again
                self.line = ""
                events += [("echo", "^C\r\n"), ("interrupt", "")]
            elif char == "\x04":  # VEOF on an empty line: the shell reads end of file and exits
                if not self.line:
                    events.append(("eof", ""))
            elif char == "\x15":  # VKILL
                events.append(("echo", "\b \b" * len(self.line)))
                self.line = ""
            elif char >= " ":
                self.line += char
                events.append(("echo", char))
        return events


def terminal_text(text: str) -> str:
    """Output as a pty writes it: every newline as \\r\\n (ONLCR), ending with one."""
    if text and not text.endswith("\n"):
        text += "\n"
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


class ShellChannel:
    """One session's channel, on one WebSocket connection (its own thread)."""

    def __init__(self, connection: Any, session: Any, responder: Any, problem: Callable[[], str | None],
                 end: Callable[[str], None]) -> None:
        self.connection = connection
        self.session = session
        self.responder = responder
        self.problem = problem  # why the agent's ssmmessages path does not work now, or None
        self.end = end  # ends the session in the backend, with the reason (empty: the shell exited)
        self.sequence = 0
        self.receiver = wire.InOrderReceiver()
        self.terminal = LineDiscipline()
        self.size: dict | None = None
        self.closed = False
        # Output may come from a second thread (a port session's server, `port_channel`): numbering a message and
        # sending it, and closing, happen under one lock.
        self.lock = threading.RLock()

    def serve(self) -> None:
        from websockets.exceptions import ConnectionClosed

        reason = self.problem()
        if reason:
            return self.close(reason)
        self.session.terminal = []  # the shell runs: from here on, what it prints is logged
        self.output(self.responder.prompt)
        try:
            for frame in self.connection:
                if isinstance(frame, str):
                    raise wire.ProtocolError("a text frame after the opening one")
                self.receive(wire.decode(frame))
                if self.closed:
                    return
        except wire.ProtocolError as error:
            log.info("session %s: malformed frame, channel closed: %s", self.session.session_id, error)
            self.connection.close(1007, f"malformed frame: {error}"[:120])
        except ConnectionClosed:
            pass  # the client went away: the session stays as it was, as on AWS until it times out

    def receive(self, message: wire.ClientMessage) -> None:
        if message.message_type == wire.CHANNEL_CLOSED:
            return self.close("")
        if message.message_type != wire.INPUT_STREAM:
            return  # acknowledgements of our output (nothing is resent here), publication control
        deliver, ack = self.receiver.accept(message)
        if ack:
            self.send(wire.acknowledge(message))
        for item in deliver:
            self.handle(item)
            if self.closed:
                return

    def handle(self, message: wire.ClientMessage) -> None:
        if message.payload_type == wire.SIZE:
            self.size = message.json()
        elif message.payload_type == wire.FLAG:
            if wire.read_flag(message.payload) == wire.TERMINATE_SESSION:
                self.close("")
        elif message.payload_type == wire.OUTPUT:
            for event, text in self.terminal.feed(message.payload):
                if event == "echo":
                    self.output(text)
                elif event == "line":
                    self.answer(text)
                elif event == "interrupt":
                    self.output(self.responder.prompt)
                else:  # eof: bash prints "exit" as it leaves
                    self.output("exit\r\n")
                    self.close("")
                if self.closed:
                    return

    def answer(self, line: str) -> None:
        reason = self.problem()
        if reason:
            return self.close(reason)
        answer = self.responder.run(line)
        if answer.output:
            self.output(terminal_text(answer.output))
        self.stream(wire.EXIT_CODE, str(answer.exit_code).encode())
        if getattr(answer, "closes", False):
            return self.close("")
        self.output(self.responder.prompt)

    def output(self, text: str) -> None:
        if text and self.session.terminal is not None:
            self.session.terminal.append(text)
        self.stream(wire.OUTPUT, text.encode())

    def stream(self, payload_type: int, payload: bytes) -> None:
        if not payload:  # SendStreamDataMessage ignores an empty payload
            return
        with self.lock:
            flags = 1 if self.sequence == 0 else 0
            self.send(wire.stream(wire.OUTPUT_STREAM, self.sequence, payload_type, payload, flags))
            self.sequence += 1

    def send(self, message: wire.ClientMessage) -> None:
        with self.lock:
            self.connection.send(wire.encode(message))

    def close(self, reason: str, details: str | None = None) -> None:
        """channel_closed (Output: the reason; empty when the shell exited, and the plugin prints "Exiting
        session with sessionId: …"), the session ended in the backend (Details: `details`, else the reason),
        the WebSocket closed."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        self.end(details or reason)
        try:
            self.send(wire.channel_closed(self.session.session_id, reason, self.session.target))
        finally:
            self.connection.close(1000, "channel closed")
