"""`make bench`'s Session Manager figures (issue 17), each against a baseline measured in the same run: a shell
command's round trip, and port forwarding's throughput. `bench.main` runs them on its emulator."""

from __future__ import annotations

import socket
import statistics
import threading
import time

from figures import report


def _echo_round_trips(runs: int) -> list[float]:
    """The floor: a small frame to a loopback `websockets` echo server and back (`websocket-client`), `runs` times."""
    import threading

    import websocket
    from websockets.sync.server import serve

    def echo(connection) -> None:
        for frame in connection:
            connection.send(frame)

    with serve(echo, "127.0.0.1", 0, compression=None) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ws = websocket.create_connection(f"ws://127.0.0.1:{server.socket.getsockname()[1]}")
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            ws.send_bytes(b"x" * 150)  # about one client message: the 116-byte header and a short payload
            ws.recv()
            times.append(time.perf_counter() - started)
        ws.close()
        server.shutdown()
    return times


def bench_session_round_trip(lab_factory, runs: int = 50) -> None:
    """A command's round trip in a Session Manager shell on the emulator (issue 17): `Shell.run("hostname")` over
    the data channel, answered by the simulated instance; p50 <= 50 ms. Baseline: a loopback WebSocket echo."""
    from ssmlab.build import build
    from ssmlab.emulator import control
    from ssmlab.emulator.agent import AGENT_START_DELAY
    from ssmlab.session.client import open_shell

    lab = lab_factory("bench-session")
    instance_id = build(lab).results["instance"].instance_id
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    with open_shell(lab, instance_id) as shell:
        shell.run("hostname")  # warm: the first answer reads the lab's state
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            shell.run("hostname")
            times.append(time.perf_counter() - started)
    floor = _echo_round_trips(runs)
    p50, p95 = statistics.median(times) * 1000, statistics.quantiles(times, n=20)[-1] * 1000
    echo50 = statistics.median(floor) * 1000
    report(f"shell: hostname round trip (x{runs})", f"p50 {p50:.1f} ms, p95 {p95:.1f} ms",
           f"{echo50:.2f} ms (ws echo)", f"x{p50 / echo50:.0f}; budget p50 <= 50 ms", p50 <= 50)


FORWARD_BYTES = 16 * 1024 * 1024  # GET /bytes/16777216 from the simulated web server (instance/services.py)
RELAY_BUFFER = 64 * 1024


def _download(local_port: int, size: int) -> float:
    """GET /bytes/<size> from 127.0.0.1:<local_port>, read to the last byte and checked; the seconds it took."""
    from ssmlab.instance import services

    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", local_port), timeout=30) as conn:
        conn.sendall(f"GET {services.BYTES_PATH}{size} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        data = bytearray()
        while b"\r\n\r\n" not in data:
            data += conn.recv(RELAY_BUFFER)
        head, body = bytes(data).split(b"\r\n\r\n", 1)
        body = bytearray(body)
        while len(body) < size:  # the client closes first: basic forwarding does not pass the server's close on
            piece = conn.recv(RELAY_BUFFER)
            if not piece:
                break
            body += piece
    seconds = time.perf_counter() - started
    if not head.startswith(b"HTTP/1.1 200 ") or body != (bytes(range(256)) * (size // 256 + 1))[:size]:
        raise SystemExit(f"GET /bytes/{size}: {head[:60]!r}, {len(body)} bytes of {size}, or the wrong bytes")
    return seconds


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(RELAY_BUFFER):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _LoopbackRelay:
    """The baseline: the same web server (`services.WebServer`) on a loopback socket, reached through a plain TCP
    relay — a listener whose accepted connection is copied both ways to the server by two threads."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.local_port = self.listener.getsockname()[1]
        for target in (self._serve, self._relay):
            threading.Thread(target=target, daemon=True).start()

    def _serve(self) -> None:
        from ssmlab.instance import services

        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                web, closes = services.WebServer("", time.time()), False
                while not closes and (data := conn.recv(RELAY_BUFFER)):
                    answer, closes = web.receive(data)
                    conn.sendall(answer)

    def _relay(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.server.getsockname())
            threading.Thread(target=_copy, args=(upstream, conn), daemon=True).start()
            _copy(conn, upstream)

    def close(self) -> None:
        self.listener.close()
        self.server.close()


def bench_forward_throughput(lab_factory, turns: int = 3, size: int = FORWARD_BYTES) -> None:
    """Port forwarding's throughput (issue 17): GET /bytes/<16 MiB> from the simulated web server through
    `forward(lab, instance, 80)` — 1024-byte Output messages, each acknowledged — against the same download through
    a plain loopback TCP relay to the same server code; medians of `turns`, taken in turns; >= 0.3 of the relay."""
    from ssmlab.build import build
    from ssmlab.emulator import control
    from ssmlab.emulator.agent import AGENT_START_DELAY
    from ssmlab.session.forward import forward

    lab = lab_factory("bench-forward")
    instance_id = build(lab).results["instance"].instance_id
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    relay = _LoopbackRelay()
    try:
        with forward(lab, instance_id, 80) as forwarding:
            _download(forwarding.local_port, 1024)  # warm: the first dial reads the lab's state
            _download(relay.local_port, 1024)
            through, plain = [], []
            for _ in range(turns):
                through.append(_download(forwarding.local_port, size))
                plain.append(_download(relay.local_port, size))
    finally:
        relay.close()
    mb = size / 1e6
    measured, baseline = mb / statistics.median(through), mb / statistics.median(plain)
    report(f"port forward: GET {size >> 20} MiB (x{turns})", f"{measured:.1f} MB/s", f"{baseline:.0f} MB/s (TCP relay)",
           f"x{measured / baseline:.2f}; budget >= x0.3", measured >= 0.3 * baseline)
