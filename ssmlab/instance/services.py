"""The simulated instance's listening ports: what a port-forwarding session's agent reaches when it dials
localhost:<port>. Pure: bytes in, bytes out; nothing listens on the host.

The simulation's choices, all of them: the instance runs a small web server on port 80 that answers HTTP/1.1
with a page naming the instance, its private IP, its private DNS name and its Availability Zone, from the lab's
state (the kit's AMI runs no web server: this one stands for "a service on the instance"); port 22 is sshd,
a real SSH server that the emulator runs (`ssmlab.emulator.sshd`: a key exchange needs threads and keys, so it
is not here), whose identification line is the distribution's OpenSSH (`SSH_IDENT`); any other port has nothing
listening, so the agent's dial is refused (`session.portsession.connection_refused`). Every connection is
answered once and then closed by the server (`Connection: close`), as a server may (RFC 9112 section 9.6).
The web server also answers `GET /bytes/N` with N bytes (0..64 MiB) of application/octet-stream, the bytes 0 to
255 over and over, so that a learner can time a download through the tunnel (`make bench` does): named after
httpbin's /bytes/N, which sends random bytes and at most 100 KiB; here they are predictable, so they can be checked.

A remote host (`dial_host`, for AWS-StartPortForwardingSessionToRemoteHost): the instance named <lab>-database
(`steps.private_host`) runs PostgreSQL on 5432, speaking the frontend/backend protocol's first exchange
(PostgreSQL documentation, "Frontend/Backend Protocol": "Message Flow" and "Message Formats"): it sends nothing
until the client speaks; an SSLRequest or GSSENCRequest (length 8, code 80877103 / 80877104) is answered 'N'
(no encryption); a StartupMessage (protocol 3.0, 196608) is answered AuthenticationMD5Password ('R', 5, a salt);
the PasswordMessage ('p') that follows gets an ErrorResponse ('E': S/V FATAL, C 28P01 invalid_password, M
"password authentication failed for user \"U\"", as src/backend/libpq/auth.c words it) and the server closes.
The simulation's choices: md5 rather than a newer server's SCRAM, every password is wrong (there is no database
behind it), anything else is answered with the ErrorResponse for a protocol violation (08P01). Nothing else
listens on a remote host: its other ports refuse.
"""

from __future__ import annotations

import html
import struct
from email.utils import formatdate

from ssmlab.instance import host
from ssmlab.model import LabState

WEB_PORT, SSH_PORT, POSTGRES_PORT = 80, 22, 5432
DATABASE_ROLE = "database"  # the Name tag <lab>-database: steps.private_host
SSL_REQUEST, GSSENC_REQUEST, PROTOCOL_3 = 80877103, 80877104, 196608
MD5_SALT = b"ssml"  # the simulation's fixed salt
SERVER = "ssmlab-simulated-httpd"  # the Server header says what it is
SSH_IDENT = {"al2023": b"SSH-2.0-OpenSSH_8.7\r\n", "al2": b"SSH-2.0-OpenSSH_7.4\r\n",
             "ubuntu": b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"}  # the distributions' OpenSSH versions
MAX_REQUEST = 64 * 1024
BYTES_PATH, MAX_BYTES = "/bytes/", 64 * 1024 * 1024


class WebServer:
    """One HTTP connection: reads one request's head, answers it, closes."""

    def __init__(self, page: str, now: float) -> None:
        self.page = page.encode()
        self.now = now
        self.buffer = b""

    def opening(self) -> bytes:
        return b""

    def receive(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes the server sends back, whether it closes the connection now)."""
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer and b"\n\n" not in self.buffer:
            if len(self.buffer) > MAX_REQUEST:
                return self._answer(431, "Request Header Fields Too Large", b""), True
            return b"", False
        request_line = self.buffer.split(b"\n", 1)[0].decode("latin-1").strip()
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return self._answer(400, "Bad Request", b"<h1>400 Bad Request</h1>\n"), True
        method, target = parts[0], parts[1]
        if method not in ("GET", "HEAD"):
            return self._answer(405, "Method Not Allowed", b"<h1>405 Method Not Allowed</h1>\n",
                                extra="Allow: GET, HEAD\r\n"), True
        path = target.split("?", 1)[0]
        if path.startswith(BYTES_PATH):
            return self._bytes(path[len(BYTES_PATH):], head=method == "HEAD"), True
        if path not in ("/", "/index.html"):
            return self._answer(404, "Not Found", b"<h1>404 Not Found</h1>\n", head=method == "HEAD"), True
        return self._answer(200, "OK", self.page, head=method == "HEAD"), True

    def _bytes(self, count: str, head: bool) -> bytes:
        """GET /bytes/N: N bytes, 0 1 2 … 255 0 1 …; N in decimal, at most MAX_BYTES."""
        if not count.isascii() or not count.isdigit() or int(count) > MAX_BYTES:
            return self._answer(400, "Bad Request", f"<h1>400 Bad Request</h1>\n<p>GET /bytes/N takes N from 0 to "
                                f"{MAX_BYTES}</p>\n".encode(), head=head)
        n = int(count)
        body = (bytes(range(256)) * (n // 256 + 1))[:n]
        return self._answer(200, "OK", body, head=head, content_type="application/octet-stream")

    def _answer(self, status: int, reason: str, body: bytes, extra: str = "", head: bool = False,
                content_type: str = "text/html; charset=utf-8") -> bytes:
        lines = (f"HTTP/1.1 {status} {reason}\r\nDate: {formatdate(self.now, usegmt=True)}\r\n"
                 f"Server: {SERVER}\r\nContent-Type: {content_type}\r\n"
                 f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n")
        return lines.encode() + (b"" if head else body)


class PostgresServer:
    """PostgreSQL's side of a connection as far as the password, which is always wrong."""

    def __init__(self) -> None:
        self.buffer = b""
        self.user = ""
        self.started = False

    def opening(self) -> bytes:
        return b""  # the server waits for the client's first message

    def receive(self, data: bytes) -> tuple[bytes, bool]:
        self.buffer += data
        answer = b""
        while True:
            header = 4 if not self.started else 5  # startup-phase messages have no type byte
            if len(self.buffer) < header:
                return answer, False
            length = struct.unpack("!I", self.buffer[header - 4:header])[0]
            if length < 4 or length > MAX_REQUEST:
                return answer + error("08P01", "invalid length of startup packet"), True
            size = length + header - 4
            if len(self.buffer) < size:
                return answer, False
            message, self.buffer = self.buffer[:size], self.buffer[size:]
            reply, closes = self._one(message)
            answer += reply
            if closes:
                return answer, True

    def _one(self, message: bytes) -> tuple[bytes, bool]:
        if self.started:
            if message[:1] == b"p":
                return error("28P01", f'password authentication failed for user "{self.user}"'), True
            return error("08P01", f"expected password response, got message type {message[:1].decode('latin-1')}"), True
        code = struct.unpack("!I", message[4:8])[0] if len(message) >= 8 else 0
        if code in (SSL_REQUEST, GSSENC_REQUEST):
            return b"N", False
        if code != PROTOCOL_3:
            return error("0A000", f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}"), True
        fields = message[8:].split(b"\0")
        pairs = dict(zip(fields[0::2], fields[1::2]))
        self.user = pairs.get(b"user", b"").decode("utf-8", "replace")
        self.started = True
        return b"R" + struct.pack("!II", 12, 5) + MD5_SALT, False


def error(code: str, text: str) -> bytes:
    """An ErrorResponse: 'E', its length, then fields (type byte, C string), then a zero byte."""
    body = b"".join(kind + value.encode() + b"\0" for kind, value in
                    ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", text))) + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


def page(state: LabState, instance_id: str) -> str:
    """The web server's page: who answered, from the lab's state."""
    instance = state.instance(instance_id)
    if instance is None:
        return "<!DOCTYPE html>\n<title>ssmlab</title>\n<p>unknown instance</p>\n"
    subnet = state.subnet(instance.subnet_id) if instance.subnet_id else None
    rows = [("instance", instance.instance_id), ("private IP", instance.private_ip or "-"),
            ("private DNS name", host.private_name(state, instance)), ("Availability Zone", subnet.az if subnet else "-"),
            ("subnet", instance.subnet_id or "-"), ("VPC", instance.vpc_id or "-")]
    cells = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return (f"<!DOCTYPE html>\n<html><head><title>{html.escape(instance.instance_id)}</title></head><body>\n"
            f"<h1>Hello from {html.escape(instance.instance_id)}</h1>\n"
            "<p>Served on port 80 of the private instance, reached through Session Manager port forwarding "
            "(a simulated web server: ssmlab's emulator).</p>\n"
            f"<table>\n{cells}\n</table>\n</body></html>\n")


def dial(state: LabState, instance_id: str, port: int, now: float) -> WebServer | None:
    """What answers a connection to localhost:<port> on the instance, but sshd (`emulator.sshd`, a real SSH
    server, which the emulator dials itself); None: nothing listens (refused)."""
    if port == WEB_PORT:
        return WebServer(page(state, instance_id), now)
    return None


def dial_host(state: LabState, instance_id: str, port: int) -> PostgresServer | None:
    """What answers a connection to `port` on another instance of the VPC; None: nothing listens (refused)."""
    instance = state.instance(instance_id)
    name = dict(instance.tags).get("Name", "") if instance else ""
    if port == POSTGRES_PORT and name.endswith(f"-{DATABASE_ROLE}"):
        return PostgresServer()
    return None
