"""The agent's side of one port session's data channel: the handshake, then bytes to and from a port on the
simulated instance (`ssmlab.instance.services`), one TCP connection at a time.

Faithful to aws/amazon-ssm-agent (see `ssmlab.session.portsession` for the file and function of each):
the port plugin always shakes hands (RequireHandshake): a HandshakeRequest with the SessionType action
{SessionType "Port", Properties: the session's properties}, the client's HandshakeResponse within 15 s or the
session fails with "Handshake timed out. …", a failed client action fails it too, then HandshakeComplete with
the time it took (datachannel.go PerformHandshake, handleHandshakeResponse). Then, as BasicPortSession does
(port_basic.go): it dials the port at once — refused: "Unable to connect to specified port: …" ends the
session; Output payloads go to the connection and what the port sends comes back as output_stream_data in
pieces of at most 1024 bytes; when the server closes, the next Output dials again (LocalPortForwarding) or the
session ends (the SSH document); DisconnectToPort closes the server's connection, TerminateSession ends the
session. Every input stream message is acknowledged, in order (handleStreamDataMessage).

The simulation's choices: a client that reports a version >= 1.1.70 would get multiplexed forwarding (smux)
from a real agent; this agent does not multiplex, so it ends such a session saying so. channel_closed, which
AWS's service sends the client when the agent's session ends, is sent from here with the agent's reason as
Output. The ssmmessages path is judged at the start and at every dial (a new TCP connection). With a host
(AWS-StartPortForwardingSessionToRemoteHost) the dial is judged by `hostpath` (port.go validateParameters and
DialCall); a failed one ends the session with the agent's words, and the session's Details add why (ssmlab:).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from ssmlab.emulator.shell_channel import ShellChannel
from ssmlab.session import portsession as port
from ssmlab.session import protocol as wire

log = logging.getLogger("ssmlab.emulator.datachannel")


@dataclass(frozen=True)
class PortTarget:
    """What the agent on the instance offers a port session: its version and a dial(port, host) that returns a
    service (`instance.services`), the dial's error text, or Unreachable (error text and the session's Details)."""

    agent_version: str
    dial: Callable[[int, str | None], Any]


@dataclass(frozen=True)
class Unreachable:
    """A dial that failed: the agent's words (channel_closed's Output) and the session's Details."""

    words: str
    details: str


class PortChannel(ShellChannel):
    """One port session's channel, on one WebSocket connection (its own thread). The message plumbing —
    acknowledging and ordering input (receive), numbering output (stream), channel_closed (close) — is the
    shell channel's; the handshake, the payloads and the port are this class's."""

    def __init__(self, connection: Any, session: Any, target: PortTarget, problem: Callable[[], str | None],
                 end: Callable[[str], None], handshake_timeout: float = port.HANDSHAKE_TIMEOUT) -> None:
        super().__init__(connection, session, None, problem, end)
        self.target = target
        self.handshake_timeout = handshake_timeout
        self.properties = port.properties(session.document, getattr(session, "parameters", None) or {})
        self.response: dict | None = None
        self.service: Any = None

    def serve(self) -> None:
        """The handshake and the first dial, then the client's messages until the session ends."""
        from websockets.exceptions import ConnectionClosed

        reason = self.problem()
        if reason:
            return self.close(reason)
        try:
            if self.handshake():
                while not self.closed:
                    self.take(self.connection.recv())
        except wire.ProtocolError as error:
            log.info("session %s: malformed frame, channel closed: %s", self.session.session_id, error)
            self.connection.close(1007, f"malformed frame: {error}"[:120])
        except ConnectionClosed:
            pass  # the client went away: the session stays as it was, as on AWS until it times out
        finally:
            self.disconnect()  # the server's connection goes with the channel

    def take(self, frame: Any) -> None:
        if isinstance(frame, str):
            raise wire.ProtocolError("a text frame after the opening one")
        self.receive(wire.decode(frame))  # acknowledged, in order, to handle() (the shell channel's receive)

    # -- the handshake -----------------------------------------------------------------------------------

    def handshake(self) -> bool:
        """PerformHandshake, then the plugin's checks and the first dial; False when the session ended."""
        started = time.monotonic()
        self.stream(wire.HANDSHAKE_REQUEST,
                    wire.handshake_request(self.target.agent_version, port.SESSION_TYPE, self.properties))
        while self.response is None and not self.closed:
            left = started + self.handshake_timeout - time.monotonic()
            try:
                frame = self.connection.recv(timeout=max(left, 0.0))
            except TimeoutError:
                self.close(port.HANDSHAKE_FAILED + port.HANDSHAKE_TIMED_OUT)
                return False
            self.take(frame)
        if self.closed:
            return False
        for action in self.response.get("ProcessedClientActions") or []:
            if action.get("ActionStatus") != wire.SUCCESS:
                self.close(f"{port.HANDSHAKE_FAILED}{action.get('ActionType')} failed on client with status "
                           f"{action.get('ActionStatus')} error: {action.get('Error')}")
                return False
        self.stream(wire.HANDSHAKE_COMPLETE, wire.handshake_complete(time.monotonic() - started))
        client_version = str(self.response.get("ClientVersion") or "")
        problem = port.parameters_problem(self.properties)
        if not problem and port.multiplexed(self.properties, client_version):
            problem = (f"ssmlab: a client of version {client_version} (>= {port.MUX_CLIENT_VERSION}) gets "
                       "multiplexed port forwarding (smux) from the SSM Agent, which this simulated agent does not do; "
                       f"report version {port.BASIC_CLIENT_VERSION} for basic forwarding")
        if problem:
            self.close(problem)
            return False
        return self.dial()

    # -- messages ----------------------------------------------------------------------------------------

    def handle(self, message: wire.ClientMessage) -> None:
        if message.payload_type == wire.HANDSHAKE_RESPONSE:
            self.response = message.json()
        elif self.response is None:
            return  # data before the handshake: the plugin is not ready (ErrHandlerNotReady); dropped here
        elif message.payload_type == wire.FLAG:
            flag = wire.read_flag(message.payload)
            if flag == wire.TERMINATE_SESSION:
                self.close("")
            elif flag == wire.DISCONNECT_TO_PORT:
                self.disconnect()  # Stop(): the server's connection closes; the next Output dials again
        elif message.payload_type == wire.OUTPUT:
            if self.service is None and not self.dial():
                return
            answer, closes = self.service.receive(message.payload)
            self.output_bytes(answer)
            if closes:
                self.server_closed()

    def dial(self) -> bool:
        """InitializeSession: connect to the port (on the instance, or the remote host); False when refused."""
        reason = self.problem()
        if not reason:
            found = self.target.dial(int(self.properties["portNumber"]), self.properties.get("host") or None)
            if isinstance(found, Unreachable):
                self.close(found.words, found.details)
                return False
            if isinstance(found, str):
                reason = found
        if reason:
            self.close(reason)
            return False
        self.service = found
        if hasattr(found, "start"):  # a server that sends on its own (sshd): from its threads, until it closes
            found.start(lambda data: self.pushed(found, data), lambda: self.pushed_close(found))
        else:
            self.output_bytes(found.opening())
        return True

    def pushed(self, service: Any, data: bytes) -> None:
        """Bytes a server sent on its own, as output; dropped once the channel or that connection is gone."""
        if self.closed or self.service is not service:
            return
        try:
            self.output_bytes(data)
        except Exception:  # the WebSocket closed under the server's thread: the channel is ending
            log.debug("session %s: output after the channel closed dropped", self.session.session_id)

    def pushed_close(self, service: Any) -> None:
        """A server that sends on its own closed its end (sshd after the client's last channel)."""
        if not self.closed and self.service is service:
            self.server_closed()

    def disconnect(self) -> None:
        """The agent closes its connection to the server, if one is open."""
        service, self.service = self.service, None
        if service is not None and hasattr(service, "stop"):
            service.stop()

    def server_closed(self) -> None:
        """The server closed its end: handlePortError (wait for the client's next Output to dial again) for
        LocalPortForwarding; handleSSHDPortError (EOF: the session ends, successfully) otherwise."""
        self.disconnect()
        if self.properties.get("type") != port.LOCAL_PORT_FORWARDING:
            self.close("")

    def output_bytes(self, data: bytes) -> None:
        for piece in port.chunks(data):  # SendStreamDataMessage ignores an empty payload: chunks gives none
            self.stream(wire.OUTPUT, piece)

    def close(self, reason: str, details: str | None = None) -> None:
        """The session ends (the reason: why; empty for a clean end): the shell channel's channel_closed, once."""
        if self.closed:
            return
        self.disconnect()
        super().close(reason, details)
