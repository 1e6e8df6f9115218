"""Port forwarding over Session Manager, on the emulator or on AWS: the plugin's basic port forwarding, in Python.

    with forward(lab, instance_id, 80) as f:                      # AWS-StartPortForwardingSession
        urllib.request.urlopen(f"http://127.0.0.1:{f.local_port}/")

`forward` starts the session with the document and its parameters (`session.portsession`), opens the data
channel (`client.open_channel`), answers the agent's handshake (SessionType "Port", `client.Channel`), then
listens on 127.0.0.1:<local_port> (0: a free port; `.local_port` says which) and relays each accepted TCP
connection's bytes both ways, acknowledging every message from the agent. As the plugin's BasicPortForwarding
(aws/session-manager-plugin `src/sessionmanagerplugin/session/portsession/basicportforwarding.go`): one local
connection at a time, read in pieces of at most 1024 bytes (StreamDataPayloadSize); when it closes, a
DisconnectToPort flag tells the agent to close its end, and the next connection is accepted; leaving sends
TerminateSession and waits for channel_closed. A server that closes its end is not signalled to the client in
basic forwarding (the agent redials on the next data, `port_basic.go`), so the local client closes first, as
an HTTP client does after a `Connection: close` answer.

This client reports version 1.1.61.0 (the last plugin release before multiplexing) so that an agent chooses
basic forwarding for it (aws/amazon-ssm-agent `agent/session/plugins/port/port.go`, GetSession); newer plugins
multiplex several connections over smux (`muxportforwarding.go`), which this module does not do. Differences
from the plugin, named: the listener opens before StartSession, so a local port in use fails before any session
starts; the agent's data that arrives before a local connection is accepted is acknowledged and kept for it
(the plugin leaves it unacknowledged and the agent resends it).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from ssmlab.errors import BadInput, LabError
from ssmlab.session import client
from ssmlab.session import portsession as port
from ssmlab.session import protocol as wire


class PortChannel(client.Channel):
    """A port session's data channel: Output payloads both ways, flags to the agent."""

    client_version = port.BASIC_CLIENT_VERSION

    def send_data(self, data: bytes) -> None:
        self._stream(wire.OUTPUT, data)

    def send_flag(self, value: int) -> None:
        self._stream(wire.FLAG, wire.flag(value))


def await_handshake(channel: PortChannel, session_id: str, timeout: float) -> list[bytes]:
    """Until HandshakeComplete: the agent's HandshakeRequest answered (`client.Channel`); the data that came
    meanwhile, in order. LabError when no handshake comes, or when the session is not a port session."""
    pending: list[bytes] = []
    deadline = time.monotonic() + timeout
    while not channel.handshake_complete:
        left = deadline - time.monotonic()
        if left <= 0:
            raise LabError(f"no handshake from the agent of session {session_id} within {timeout:g} s")
        pending += [m.payload for m in channel.receive(left) if m.payload_type == wire.OUTPUT]
    if channel.session_type != port.SESSION_TYPE:
        raise LabError(f"session {session_id} is a {channel.session_type or 'shell'} session, not a "
                       f"{port.SESSION_TYPE} session")
    return pending


class Forwarder:
    """One port-forwarding session: a local listener and its data channel. Use as a context manager."""

    def __init__(self, lab: Any, instance_id: str, port_number: int, local_port: int = 0, host: str | None = None,
                 timeout: float = 10.0) -> None:
        self.document, self.parameters = port.start_parameters(port_number, local_port, host)  # BadInput first
        self.lab, self.instance_id, self.port, self.host = lab, instance_id, int(port_number), host
        self.timeout = timeout
        self.session_id = ""
        self.channel: PortChannel | None = None
        self.connections = 0  # local connections accepted so far
        self._listener: socket.socket | None = None
        self.local_port = 0  # the port listened on, kept: the listener closes as soon as the session ends
        self._conn: socket.socket | None = None
        self._pending: list[bytes] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ended = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def closed(self) -> client.ChannelClosed | None:
        """Why the channel closed (its Output: the agent's reason, empty for a clean end), or None while open."""
        return self.channel.closed if self.channel else None

    def start(self) -> "Forwarder":
        from ssmlab import managed

        local = int(self.parameters["localPortNumber"][0])
        try:
            self._listener = socket.create_server(("127.0.0.1", local))
            self.local_port = self._listener.getsockname()[1]
        except OSError as error:
            raise BadInput(f"cannot listen on 127.0.0.1:{local} ({error.strerror}): give a free local port, "
                           "or 0 for any") from None
        self._listener.settimeout(0.2)
        try:
            session = managed.start_session(self.lab, self.instance_id, document=self.document,
                                            parameters=self.parameters)
            self.session_id = session.session_id
            ws = client.open_channel(session.stream_url, session.token, self.timeout, port.BASIC_CLIENT_VERSION)
            self.channel = PortChannel(ws, session.session_id)
            self._handshake()
        except BaseException:
            self._shut()
            raise
        for name, target in (("pump", self._pump), ("accept", self._accept)):
            thread = threading.Thread(target=target, name=f"ssmlab-forward-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _handshake(self) -> None:
        self._pending += await_handshake(self.channel, self.session_id, self.timeout)

    # -- the two threads -----------------------------------------------------------------------------

    def _pump(self) -> None:
        """The agent's messages, acknowledged, to the local connection (or kept until one is accepted)."""
        try:
            while not self._stopping.is_set() or not self.channel.closed:
                for message in self.channel.receive(0.2):
                    if message.payload_type == wire.OUTPUT:
                        self._deliver(message.payload)
        except client.ChannelClosed:
            pass
        except Exception as error:  # the WebSocket broke: the channel is gone
            self.channel.closed = client.ChannelClosed(self.session_id, f"the data channel failed: {error}")
        finally:  # the session is over: nothing to relay to, so the listener closes too (the plugin exits)
            self._ended.set()
            self._close_conn()
            self._listener.close()

    def _deliver(self, data: bytes) -> None:
        with self._lock:
            if self._conn is None:
                self._pending.append(data)
                return
            try:
                self._conn.sendall(data)
            except OSError:
                pass  # the local client left; its reader sends DisconnectToPort

    def _accept(self) -> None:
        """Basic forwarding: one local connection at a time; the next is accepted once it closes."""
        while not self._stopping.is_set() and not self._ended.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                if self._ended.is_set():  # the agent ended the session while this connection was accepted: the
                    conn.close()          # pump has closed what it saw, so this one is closed here (the plugin exits)
                    return
                self._conn, pending, self._pending = conn, self._pending, []
                self.connections += 1
                try:
                    conn.sendall(b"".join(pending))
                except OSError:
                    pass
            self._relay(conn)

    def _relay(self, conn: socket.socket) -> None:
        """The local connection's bytes to the agent until it closes; then DisconnectToPort."""
        while True:
            try:
                data = conn.recv(port.PAYLOAD_SIZE)
            except OSError:
                data = b""
            if not data:
                break
            try:
                self.channel.send_data(data)
            except Exception:
                break  # the channel closed under it
        self._close_conn()
        if not self._ended.is_set() and not self._stopping.is_set():
            try:
                self.channel.send_flag(wire.DISCONNECT_TO_PORT)
            except Exception:
                pass

    # -- the end -------------------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> client.ChannelClosed | None:
        """Block until the channel closes (the agent ended the session) or `timeout` passes; `closed`."""
        self._ended.wait(timeout)
        return self.closed

    def close(self) -> str:
        """TerminateSession, then wait for channel_closed; its Output (empty for a clean end)."""
        self._stopping.set()
        if self.channel and not self._ended.is_set():
            try:
                self.channel.send_flag(wire.TERMINATE_SESSION)
                self._ended.wait(self.timeout)
            except Exception:
                pass
        self._shut()
        return self.closed.output if self.closed else ""

    def _close_conn(self) -> None:
        """Shut the local connection down, then close it: on Linux a close alone, while the relay thread sits in
        recv() on it, sends no FIN, so the local client would wait for its own timeout (10 s in `probe`)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client has gone already
            conn.close()

    def _shut(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
        self._close_conn()
        for thread in self._threads:
            thread.join(timeout=2)
        if self.channel is not None:
            if not self.channel.closed:
                self.channel.closed = client.ChannelClosed(self.session_id, "closed by the client")
            self.channel.ws.close()

    def __enter__(self) -> "Forwarder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def answer(forwarding: Forwarder, ask: Any) -> str:
    """What `ask(local_port)` (`session.probe`: a client's first exchange) got through the tunnel; when the agent
    could not dial the port, its words instead, as the plugin prints them when the channel closes."""
    try:
        return ask(forwarding.local_port)
    except OSError as error:
        closed = forwarding.wait(2)
        if closed is not None and closed.output:
            return f"the agent closed the session: {closed.output}"
        return f"no answer through the tunnel: {error}"


def forward(lab: Any, instance_id: str, port_number: int, local_port: int = 0, host: str | None = None,
            timeout: float = 10.0) -> Forwarder:
    """Start forwarding 127.0.0.1:<local_port> to <port_number> on the instance (or on `host`, through it)."""
    return Forwarder(lab, instance_id, port_number, local_port, host, timeout).start()
