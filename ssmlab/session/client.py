"""A Session Manager shell over StartSession's StreamUrl, on the emulator or on AWS: the plugin's job, in Python.

`open_shell(lab, instance_id)` calls StartSession, opens the WebSocket (`websocket-client`), sends the opening
frame with the TokenValue, the terminal's size, and waits for the prompt. It acknowledges every stream message
from the agent, keeps them in order (`protocol.InOrderReceiver`), answers a HandshakeRequest for a shell
(SessionType Standard_Stream) and refuses KMS encryption, which it does not implement
(aws/session-manager-plugin `src/datachannel/streaming.go`, handleHandshakeRequest; FACTS.md).

`Shell.run(command)` returns (output, exit code). On the emulator the agent sends an ExitCode payload after
each line (the simulation's choice, `emulator/shell_channel.py`). AWS sends none for an interactive shell, so
there the command is followed by `; echo "__ssmlab_rc=$?"` and the marker is read back — written from the
protocol but not yet verified against a real account.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any

from ssmlab import __version__
from ssmlab.errors import LabError
from ssmlab.session import protocol as wire

# The plugin's ClientVersion is its own release; agents compare it numerically (datachannel.go). A
# plugin-shaped number keeps that comparison working; which features it unlocks was not verified.
CLIENT_VERSION = "1.2.0.0"
CLIENT_ID = f"ssmlab-{__version__}"
MARKER = "__ssmlab_rc"
_MARKER_RE = re.compile(MARKER + r"=(\d+)\r?\n")
DEFAULT_SIZE = (300, 100)  # the plugin's size when it cannot read the terminal's (shellsession.go)


class ChannelClosed(LabError):
    """The service closed the channel; `output` is its reason (empty when the shell exited)."""

    def __init__(self, session_id: str, output: str) -> None:
        self.output = output
        super().__init__(f"session {session_id} ended: {output}" if output else f"session {session_id} ended")


class Channel:
    """One session's data channel, as the plugin's DataChannel keeps it: stream messages numbered in order,
    every agent message acknowledged and kept in order, the handshake answered. Shell and port forwarding
    (`session.forward`) build on it. Sending is safe from several threads."""

    client_version = CLIENT_VERSION

    def __init__(self, websocket: Any, session_id: str) -> None:
        self.ws = websocket
        self.session_id = session_id
        self.closed: ChannelClosed | None = None
        self.session_type = ""
        self.session_properties: Any = None
        self.handshake_complete = False
        self._sequence = 0
        self._receiver = wire.InOrderReceiver()
        self._lock = threading.Lock()

    # -- sending -----------------------------------------------------------------------------------------

    def _stream(self, payload_type: int, payload: bytes) -> None:
        with self._lock:
            self._send(wire.stream(wire.INPUT_STREAM, self._sequence, payload_type, payload))
            self._sequence += 1

    def _send(self, message: wire.ClientMessage) -> None:
        if self.closed:
            raise self.closed
        self.ws.send_bytes(wire.encode(message))

    # -- receiving ---------------------------------------------------------------------------------------

    def receive(self, timeout: float) -> list[wire.ClientMessage]:
        """The agent's stream messages that arrive within `timeout`, in order, acknowledged; the handshake is
        answered here. Raises ChannelClosed once the channel is closed."""
        import websocket

        if self.closed:
            raise self.closed
        self.ws.settimeout(max(timeout, 0.001))
        try:
            opcode, frame = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return []
        except websocket.WebSocketConnectionClosedException:
            self.closed = ChannelClosed(self.session_id, "the WebSocket closed")
            raise self.closed from None
        if opcode == websocket.ABNF.OPCODE_CLOSE:  # refused or dropped: the close frame's reason
            self.closed = ChannelClosed(self.session_id, frame[2:].decode(errors="replace") or "the WebSocket closed")
            raise self.closed
        if opcode != websocket.ABNF.OPCODE_BINARY:
            return []
        message = wire.decode(frame)
        if message.message_type == wire.CHANNEL_CLOSED:
            self.closed = ChannelClosed(self.session_id, str(message.json().get("Output", "")))
            raise self.closed
        if message.message_type != wire.OUTPUT_STREAM:
            return []  # acknowledgements (nothing is resent), publication control
        deliver, ack = self._receiver.accept(message)
        if ack:
            self._send(wire.acknowledge(message))
        return [m for m in deliver if not self._handshake(m)]

    def _handshake(self, message: wire.ClientMessage) -> bool:
        """Handle a handshake payload (True), as handleHandshakeRequest / handleHandshakeComplete do."""
        if message.payload_type == wire.HANDSHAKE_COMPLETE:
            self.handshake_complete = True
            return True
        if message.payload_type != wire.HANDSHAKE_REQUEST:
            return False
        request = message.json()
        processed, errors = [], []
        for action in request.get("RequestedClientActions") or []:
            kind = action.get("ActionType")
            if kind == wire.SESSION_TYPE:
                parameters = action.get("ActionParameters") or {}
                self.session_type = parameters.get("SessionType", "")
                self.session_properties = parameters.get("Properties")
                processed.append(wire.processed_action(kind, wire.SUCCESS))
            else:
                errors.append(f"Unsupported action {kind}" if kind != wire.KMS_ENCRYPTION
                              else "this client does not do KMS encryption yet")
                processed.append(wire.processed_action(kind, wire.FAILED if kind == wire.KMS_ENCRYPTION
                                                       else wire.UNSUPPORTED, errors[-1]))
        self._stream(wire.HANDSHAKE_RESPONSE, wire.handshake_response(self.client_version, processed, errors))
        if any(a.get("ActionType") == wire.KMS_ENCRYPTION for a in request.get("RequestedClientActions") or []):
            raise LabError("the session asks for KMS encryption: this client does not do KMS encryption yet "
                           "(use the AWS CLI with the Session Manager plugin for an encrypted session)")
        return True

    def read_until(self, done: Any, timeout: float) -> tuple[str, int | None]:
        """Output text and the last ExitCode until `done(text, exit_code)` holds; LabError after `timeout`."""
        text, code = "", None
        deadline = time.monotonic() + timeout
        while not done(text, code):
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabError(f"no answer from session {self.session_id} within {timeout:g} s; so far: {text[-200:]!r}")
            for message in self.receive(left):
                if message.payload_type in (wire.OUTPUT, wire.STDERR):
                    text += message.text
                elif message.payload_type == wire.EXIT_CODE:
                    code = int(message.text.strip() or 0)
        return text, code



class Shell(Channel):
    """One shell session's data channel. Use as a context manager, or call close()."""

    def __init__(self, websocket: Any, session_id: str, *, marker: bool) -> None:
        super().__init__(websocket, session_id)
        self.marker = marker  # read the exit status from an echoed marker (AWS) instead of ExitCode (emulator)
        self.prompt = ""

    def send_keys(self, data: bytes) -> None:
        """Keystrokes as typed: Enter is \\r (the plugin turns a lone \\n into \\r, SendInputDataMessage)."""
        self._stream(wire.OUTPUT, data)

    def resize(self, cols: int, rows: int) -> None:
        self._stream(wire.SIZE, wire.size(cols, rows))

    def wait_for_prompt(self, timeout: float = 10.0) -> str:
        """The first output is the shell's prompt (on AWS, whatever the shell prints first)."""
        self.prompt, _ = self.read_until(lambda text, _: bool(text), timeout)
        return self.prompt

    def run(self, command: str, timeout: float = 10.0) -> tuple[str, int]:
        """Type `command` and Enter; its output (without the echo and the next prompt) and its exit status."""
        if "\n" in command or "\r" in command:
            raise ValueError("run() takes one line; send several with send_keys")
        if self.marker:
            typed = f'{command}; echo "{MARKER}=$?"'
            self.send_keys(typed.encode() + b"\r")
            text, _ = self.read_until(lambda t, _: bool(_MARKER_RE.search(t)), timeout)
            found = _MARKER_RE.search(text)
            output, code = text[:found.start()], int(found.group(1))
            echo = typed + "\r\n"
        else:
            self.send_keys(command.encode() + b"\r")
            text, code = self.read_until(lambda t, c: c is not None and t.endswith(self.prompt), timeout)
            output = text[: len(text) - len(self.prompt)]
            echo = command + "\r\n"
        if output.startswith(echo):
            output = output[len(echo):]
        return output.replace("\r\n", "\n"), int(code or 0)

    def close(self, timeout: float = 5.0) -> str:
        """Type `exit` and wait for channel_closed; its Output (empty when the shell simply exited)."""
        try:
            if not self.closed:
                self.send_keys(b"exit\r")
                self.read_until(lambda *_: False, timeout)
        except ChannelClosed:
            pass
        except LabError:
            self.closed = ChannelClosed(self.session_id, "no channel_closed after exit")
        finally:
            self.ws.close()
        return self.closed.output if self.closed else ""

    def __enter__(self) -> "Shell":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_channel(stream_url: str, token: str, timeout: float = 10.0, client_version: str = CLIENT_VERSION) -> Any:
    """The WebSocket to StreamUrl with the opening frame sent (streaming.go: Open, FinalizeDataChannelHandshake)."""
    import websocket

    try:
        ws = websocket.create_connection(stream_url, timeout=timeout, enable_multithread=True)
    except (OSError, websocket.WebSocketException) as error:
        raise LabError(f"cannot open the session's data channel {stream_url}: {error}") from error
    ws.send(wire.opening_frame(token, CLIENT_ID, client_version, str(uuid.uuid4())))
    return ws


def connect(stream_url: str, token: str, session_id: str, *, marker: bool, timeout: float = 10.0,
            size: tuple[int, int] = DEFAULT_SIZE) -> Shell:
    """Open StreamUrl with its token and wait for the prompt."""
    ws = open_channel(stream_url, token, timeout)
    shell = Shell(ws, session_id, marker=marker)
    try:
        shell.resize(*size)  # the plugin sends the size first (shellsession.go, handleTerminalResize)
        shell.wait_for_prompt(timeout)
    except BaseException:
        ws.close()
        raise
    return shell


def open_shell(lab: Any, instance_id: str, timeout: float = 10.0, size: tuple[int, int] = DEFAULT_SIZE) -> Shell:
    """StartSession on `instance_id` (emulator or AWS: the same StreamUrl and TokenValue), then its shell."""
    from ssmlab import managed

    session = managed.start_session(lab, instance_id)
    return connect(session.stream_url, session.token, session.session_id, marker=not lab.is_emulator,
                   timeout=timeout, size=size)


def lab_instance(lab: Any, instance_id: str | None = None) -> str:
    """`instance_id` if it exists, else the lab's running instance (steps/instance.py names it); BadInput if none."""
    from botocore.exceptions import ClientError

    from ssmlab.errors import BadInput
    from ssmlab.steps.instance import ROLE

    if instance_id:
        try:
            lab.client("ec2").describe_instances(InstanceIds=[instance_id])
        except ClientError as error:
            if "NotFound" in error.response.get("Error", {}).get("Code", ""):
                raise BadInput(f"no instance {instance_id} in {lab.region}: give an existing instance id") from None
            raise
        return instance_id
    reservations = lab.client("ec2").describe_instances(Filters=[
        lab.tag_filter, {"Name": "tag:Name", "Values": [f"{lab.name}-{ROLE}"]},
        {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
    found = [i["InstanceId"] for r in reservations for i in r["Instances"]]
    if not found:
        raise BadInput(f"lab {lab.name!r} has no running instance in {lab.region}: build it with "
                       f"`ssmlab build --lab {lab.name}`, or give --instance-id i-…")
    return found[0]
