"""What answers on a forwarded port, asked as a client would: an HTTP GET, and a PostgreSQL server's first
exchange, so that a notebook can show a service on the instance and a database behind it answering without a
database client installed.

`postgres(port)` speaks the frontend side of the protocol's start (PostgreSQL documentation, "Frontend/Backend
Protocol": "Message Flow", "Message Formats"): an SSLRequest (the server answers S or N), a StartupMessage for
protocol 3.0 with user and database, then whatever authentication the server asks for is answered with a wrong
password; the server's ErrorResponse says what it thinks of it. That is as far as `psql` gets without the
password, and enough to prove the path: TCP through the tunnel, the remote host's security group, the server.
"""

from __future__ import annotations

import re
import socket
import struct
import urllib.request

SSL_REQUEST, PROTOCOL_3 = 80877103, 196608
AUTH_NAMES = {0: "no password (trust)", 3: "a clear-text password", 5: "an MD5 password", 10: "SCRAM-SHA-256"}


def http_get(port: int, path: str = "/", host: str = "127.0.0.1", timeout: float = 10.0) -> str:
    """GET http://host:port/path as a browser would: the status, the server, the page's title, and the page."""
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=timeout) as answer:
        page = answer.read().decode("utf-8", "replace")
        title = re.search(r"<title>(.*?)</title>", page, re.S)
        return (f"HTTP {answer.status} {answer.reason} from {answer.headers.get('Server', '?')}: "
                f"{title.group(1).strip() if title else 'no title'}\n\n{page}")


def postgres(port: int, user: str = "postgres", database: str = "postgres", host: str = "127.0.0.1",
             timeout: float = 10.0) -> str:
    """One line: what the PostgreSQL server at host:port said to a client that does not know the password."""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(struct.pack("!II", 8, SSL_REQUEST))
        encryption = _read(conn, 1)
        said = [f"TLS {'offered' if encryption == b'S' else 'not offered'} ({encryption.decode('latin-1')})"]
        if encryption == b"S":
            return said[0] + "; this probe does not speak TLS"
        body = struct.pack("!I", PROTOCOL_3) + f"user\0{user}\0database\0{database}\0\0".encode()
        conn.sendall(struct.pack("!I", len(body) + 4) + body)
        kind, payload = _message(conn)
        if kind == b"R":
            code = struct.unpack("!I", payload[:4])[0]
            said.append(f"asks for {AUTH_NAMES.get(code, f'authentication {code}')}")
            if code in (3, 5):
                wrong = b"md5" + b"0" * 32 + b"\0" if code == 5 else b"wrong\0"
                conn.sendall(b"p" + struct.pack("!I", len(wrong) + 4) + wrong)
                kind, payload = _message(conn)
        if kind == b"E":
            fields = {chunk[:1].decode(): chunk[1:].decode("utf-8", "replace")
                      for chunk in payload.split(b"\0") if chunk}
            said.append(f"{fields.get('S', 'ERROR')} {fields.get('C', '')}: {fields.get('M', '')}")
        return "; ".join(said)


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def _message(conn: socket.socket) -> tuple[bytes, bytes]:
    """One backend message: its type byte and its payload."""
    head = _read(conn, 5)
    length = struct.unpack("!I", head[1:5])[0]
    return head[:1], _read(conn, length - 4)
