"""A lossy, slow network between an AWS client and the emulator, for tests and the soak run.

`LossyProxy` is a threaded HTTP/1.1 reverse proxy on 127.0.0.1 in front of an emulator
URL. Every request is read whole, forwarded, and its answer read whole before the rules
decide what the client gets:

- `drop(action, times=1)`: the emulator acts and answers, the answer is thrown away and
  the client's connection closed without a response. That is what a network blip after
  AWS acted looks like to botocore: a ConnectionClosedError, which its retry modes retry
  (botocore/retries/standard.py, RetryableExceptionChecker; legacy: _retry.json
  "general_socket_errors"), sending the same request, ClientToken included, again.
- `delay(action, seconds)`: hold matching answers that long (two builds that both look
  up before either creates).
- `lose(rate, prefixes=..., seed=...)`: lose a seeded share of the answers to matching
  actions, for as long as the proxy runs (the soak's unreliable network).

It counts requests seen and answers dropped per action (`seen`, `dropped`). `/ssmlab/`
routes pass through untouched and uncounted. Client connections are kept alive (botocore's
urllib3 pool reuses them), one thread each. Each request goes upstream on a fresh
connection: retrying a request on a stale pooled upstream connection could repeat one the
emulator already acted on, which is exactly what this tool must decide alone.

    with LossyProxy(emulator_url) as proxy:
        proxy.drop("RunInstances")
        boto3.client("ec2", endpoint_url=proxy.url, ...).run_instances(...)
        assert proxy.dropped["RunInstances"] == 1
"""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["LossyProxy", "action_of"]

ANY = "*"
"""A rule for every AWS action."""

UNKNOWN = "?"
"""Where requests with no recognisable action (REST protocols, unsigned calls) are counted."""

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "transfer-encoding", "upgrade", "proxy-connection"})


def action_of(headers: Any, path: str, body: bytes) -> str | None:
    """The AWS action of a request: `X-Amz-Target` (json protocols: "AmazonSSM.GetParameter"),
    else `Action=` in a form body or the URL (query and ec2 protocols); None otherwise."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    fields = dict(parse_qsl(urlsplit(path).query))
    if (headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
        fields.update(parse_qsl(body.decode("utf-8", "replace")))
    return fields.get("Action")


@dataclass
class _Rule:
    action: str
    kind: str  # "drop" | "delay"
    remaining: int | None  # None: for ever
    seconds: float = 0.0

    def matches(self, action: str) -> bool:
        return self.remaining != 0 and self.action in (action, ANY)


class LossyProxy:
    """A reverse proxy to `upstream_url` that drops or delays answers by AWS action."""

    def __init__(self, upstream_url: str, *, timeout: float = 120.0) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream {upstream_url!r}: expected http://host:port")
        self.upstream = (parts.hostname, parts.port or 80)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._losses: tuple[float, tuple[str, ...], random.Random] | None = None
        self._seen: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()
        self._held: Counter[str] = Counter()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._clients: set[socket.socket] = set()

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> LossyProxy:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="lossy-proxy", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting, and close the kept-alive client connections (their threads end)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            clients = list(self._clients)
        for sock in clients:
            _shut(sock)
        self._server = None

    def __enter__(self) -> LossyProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running: use it as a context manager or call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- rules and counters -----------------------------------------------------------------

    def drop(self, action: str, times: int = 1) -> None:
        """Let the next `times` requests for `action` ("*": any) act upstream, then lose their answers."""
        if times < 1:
            raise ValueError(f"times {times!r}: expected 1 or more")
        with self._lock:
            self._rules.append(_Rule(action, "drop", times))

    def delay(self, action: str, seconds: float, times: int | None = None) -> None:
        """Hold the answers to `action` ("*": any) for `seconds` (the next `times`, or all)."""
        if seconds < 0:
            raise ValueError(f"seconds {seconds!r}: expected 0 or more")
        with self._lock:
            self._rules.append(_Rule(action, "delay", times, seconds))

    def lose(self, rate: float, *, prefixes: tuple[str, ...] = ("",), seed: int | None = None) -> None:
        """From now on, lose the answer of each request whose action starts with one of `prefixes` with
        probability `rate` (seeded: the same requests meet the same losses), after the emulator acted."""
        if not 0 <= rate <= 1:
            raise ValueError(f"rate {rate!r}: expected a number from 0 to 1")
        with self._lock:
            self._losses = (rate, tuple(prefixes), random.Random(seed))

    def clear(self) -> None:
        """Forget every rule and counter."""
        with self._lock:
            self._rules.clear()
            self._losses = None
            self._seen.clear()
            self._dropped.clear()
            self._held.clear()

    @property
    def seen(self) -> Counter[str]:
        """Requests seen per action (a copy)."""
        with self._lock:
            return Counter(self._seen)

    @property
    def dropped(self) -> Counter[str]:
        """Answers dropped per action (a copy)."""
        with self._lock:
            return Counter(self._dropped)

    @property
    def held(self) -> Counter[str]:
        """Answers held back by a delay rule, per action (a copy)."""
        with self._lock:
            return Counter(self._held)

    def _decide(self, action: str) -> tuple[float, bool]:
        """Count a request; (seconds to hold its answer, whether to drop it), consuming rules."""
        delay, drop = 0.0, False
        with self._lock:
            self._seen[action] += 1
            for rule in self._rules:
                if not rule.matches(action):
                    continue
                if rule.kind == "delay":
                    delay += rule.seconds
                elif drop:
                    continue  # one drop per request; the next rule waits for the next one
                else:
                    drop = True
                    self._dropped[action] += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
            self._rules = [r for r in self._rules if r.remaining != 0]
            if delay:
                self._held[action] += 1
            if self._losses is not None and not drop:
                rate, prefixes, rng = self._losses
                if action.startswith(prefixes) and rng.random() < rate:
                    drop = True
                    self._dropped[action] += 1
        return delay, drop

    def _track(self, sock: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._clients.add if open_ else self._clients.discard)(sock)

    def _forward(self, method: str, path: str, headers: list[tuple[str, str]],
                 body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=self.timeout)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
            return response.status, response.reason, response.getheaders(), data
        finally:
            connection.close()


def _handler_for(proxy: LossyProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(_ProxyHandler):
        pass

    Handler.proxy = proxy
    return Handler


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    proxy: LossyProxy

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.proxy.timeout)  # an idle kept-alive client ends its thread
        self.proxy._track(self.connection, True)

    def finish(self) -> None:
        self.proxy._track(self.connection, False)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read counters
        pass

    def _relay(self) -> None:
        body = self._read_body()
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP and k.lower() not in ("content-length", "expect")]
        ours = self.path.startswith("/ssmlab/")
        action = None if ours else (action_of(self.headers, self.path, body) or UNKNOWN)
        try:
            status, reason, answer_headers, data = self.proxy._forward(self.command, self.path, headers, body)
        except OSError as exc:
            status, reason, data = 502, "Bad Gateway", f"lossy proxy: upstream unreachable: {exc}".encode()
            answer_headers = [("Content-Type", "text/plain")]
        delay, drop = self.proxy._decide(action) if action is not None else (0.0, False)
        if delay:
            time.sleep(delay)
        if drop:
            self.close_connection = True
            _shut(self.connection)  # EOF with no status line: botocore's ConnectionClosedError
            return
        self.send_response_only(status, reason)
        bodyless = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        for name, value in answer_headers:
            if name.lower() in HOP_BY_HOP or (name.lower() == "content-length" and not bodyless):
                continue
            self.send_header(name, value)
        if not bodyless:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not bodyless:
            self.wfile.write(data)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _relay


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
