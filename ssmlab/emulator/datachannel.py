"""The emulator's ssmmessages data channel: a WebSocket server that StartSession's StreamUrl points at.

On AWS, StartSession returns `wss://ssmmessages.<region>.amazonaws.com/v1/data-channel/<session-id>?role=
publish_subscribe` and a TokenValue; the client opens that URL and sends the token in its first, text, frame
(aws/session-manager-plugin `src/datachannel/streaming.go`, FinalizeDataChannelHandshake). Here the URL is
`ws://127.0.0.1:<port>/…` with the same path, served by `websockets`' threaded server beside the emulator's
HTTP server, one thread per connection. The simulation's choices: the token is one-time (a second
connection with it is refused; ResumeSession issues a new one); a refused connection is closed with the
reason (close code 1008) and changes nothing else; plain ws on loopback, not TLS.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from typing import Any, Callable

from ssmlab.session import protocol as wire

log = logging.getLogger("ssmlab.emulator.datachannel")
PATH_PREFIX = "/v1/data-channel/"
OPENING_TIMEOUT = 10.0  # seconds a client has to send its opening frame (the simulation's figure)
POLICY_VIOLATION = 1008


class ChannelRefused(Exception):
    """Why a connection may not open a session's channel."""


class DataChannelServer:
    """Serves every session's data channel; `backend` is ssm_models.SessionManagerBackend."""

    def __init__(self, backend: Any, responder_for: Callable[[Any], Any], host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.backend = backend
        self.responder_for = responder_for
        self.host = host  # the emulator's own bind address: a class's shared emulator listens beyond loopback
        self.requested_port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> "DataChannelServer":
        from websockets.sync.server import serve

        # max_queue=None: a channel that streams a large answer reads no frames meanwhile; the client's
        # acknowledgements of it queue up here instead of filling the TCP buffers until both ends block
        # (a 12 MiB download through `forward` stalled so). They are small and consumed once the answer is sent.
        self._server = serve(self._handle, self.host, self.requested_port, compression=None, max_size=2**20,
                             max_queue=None)
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator-datachannel", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        return self._server.socket.getsockname()[1]

    @property
    def base_url(self) -> str:
        """Where a client on this machine connects (a wildcard bind through loopback)."""
        from ssmlab.emulator.server import url_for

        return "ws" + url_for(self.host, self.port)[4:]

    def reachable(self, stream_url: str, request_host: str | None) -> str:
        """A StreamUrl a client reaches the way it reached the emulator: on a wildcard bind (a class's emulator
        on 0.0.0.0), the host the client's request named, with this server's port; else as it is."""
        if self.host not in ("", "0.0.0.0", "::") or not request_host:
            return stream_url
        parsed = urllib.parse.urlsplit(stream_url)
        hostname = urllib.parse.urlsplit(f"//{request_host}").hostname or parsed.hostname
        netloc = f"[{hostname}]:{self.port}" if ":" in str(hostname) else f"{hostname}:{self.port}"
        return urllib.parse.urlunsplit(parsed._replace(netloc=netloc))

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            if self._thread is not None:
                self._thread.join(timeout=5)

    def _handle(self, connection: Any) -> None:
        from ssmlab.emulator.port_channel import PortChannel
        from ssmlab.emulator.shell_channel import ShellChannel
        from ssmlab.session.portsession import DOCUMENTS

        try:
            session = self._open(connection)
        except ChannelRefused as refused:
            log.info("data channel refused: %s", refused)
            connection.close(POLICY_VIOLATION, str(refused)[:120])
            return
        except Exception as error:  # a client that vanished before its opening frame
            log.info("data channel not opened: %s", error)
            connection.close(POLICY_VIOLATION, "no opening frame")
            return
        target = session.target
        try:
            problem = lambda: self.backend.channel_problem(target)  # noqa: E731
            end = lambda reason: self.backend.end_session(session.session_id, reason)  # noqa: E731
            if session.document in DOCUMENTS:  # a port session: the port plugin's channel
                PortChannel(connection, session, self.responder_for.port_target(session), problem, end).serve()
            else:
                ShellChannel(connection, session, self.responder_for(session), problem=problem, end=end).serve()
        except Exception:  # one channel's failure is logged and closes that channel only
            log.exception("data channel of %s failed", session.session_id)
            connection.close(1011, "internal error")

    def _open(self, connection: Any) -> Any:
        """The session the opening frame's token opens, or ChannelRefused (path, role, token, session)."""
        parsed = urllib.parse.urlsplit(connection.request.path)
        if not parsed.path.startswith(PATH_PREFIX):
            raise ChannelRefused(f"no data channel at {parsed.path}")
        session_id = parsed.path[len(PATH_PREFIX):]
        if urllib.parse.parse_qs(parsed.query).get("role") != ["publish_subscribe"]:
            raise ChannelRefused("role must be publish_subscribe")
        first = connection.recv(timeout=OPENING_TIMEOUT)
        if not isinstance(first, str):
            raise ChannelRefused("the first frame must be the opening text frame with the TokenValue")
        try:
            token = wire.read_opening_frame(first)["TokenValue"]
        except wire.ProtocolError as error:
            raise ChannelRefused(str(error)) from None
        problem = self.backend.claim_token(session_id, token)
        if problem:
            raise ChannelRefused(problem)
        return self.backend.session(session_id)
