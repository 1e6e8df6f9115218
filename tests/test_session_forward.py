"""Port forwarding over Session Manager, over real sockets: `ssmlab.session.forward` (websocket-client and a
local TCP listener) against the emulator's port channel (`emulator/port_channel.py`), whose agent dials the
simulated instance's services (`instance/services.py`). Plus the pure pieces: the handshake's payloads for a
port session, the documents' parameters, the simulated web server."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import urllib.request

import pytest
from botocore.exceptions import ClientError

from ssmlab import managed
from ssmlab.build import BuildOptions, build
from ssmlab.emulator import control
from ssmlab.emulator.agent import AGENT_START_DELAY
from ssmlab.errors import BadInput, LabError
from ssmlab.instance import services
from ssmlab.lab import Lab
from ssmlab.session import client
from ssmlab.session import portsession as port
from ssmlab.session import protocol as wire
from ssmlab.session.forward import forward
from tests.conftest import SSMLAB

REGION = "eu-central-1"  # no other emulator test builds here


@pytest.fixture(scope="module")
def lab(emulator):
    lab = Lab("sf-forward", REGION, "emulator")
    results = build(lab, BuildOptions()).results
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    return lab, results


def get(local_port: int, path: str = "/") -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{local_port}{path}", timeout=5) as response:
        return response.status, response.read().decode()


def sessions(lab: Lab, state: str, session_id: str) -> list[dict]:
    return lab.client("ssm").describe_sessions(State=state, Filters=[{"key": "SessionId", "value": session_id}])[
        "Sessions"]


# -- over the emulator -----------------------------------------------------------------------------------------


def test_an_http_get_through_the_forward_reaches_the_instance_page_twice(lab):
    lab, results = lab
    instance = results["instance"]
    with forward(lab, instance.instance_id, 80) as forwarding:
        assert forwarding.local_port > 0 and forwarding.channel.session_type == "Port"
        assert forwarding.channel.session_properties == {"portNumber": "80", "localPortNumber": "0",
                                                         "type": "LocalPortForwarding"}
        status, page = get(forwarding.local_port)
        assert status == 200 and f"Hello from {instance.instance_id}" in page
        ec2 = lab.client("ec2").describe_instances(InstanceIds=[instance.instance_id])
        described = ec2["Reservations"][0]["Instances"][0]
        assert described["PrivateIpAddress"] in page and described["Placement"]["AvailabilityZone"] in page
        # basic forwarding: the first connection closed (DisconnectToPort), a second one is accepted and redialled
        assert get(forwarding.local_port)[0] == 200
        with pytest.raises(urllib.error.HTTPError) as missing:
            get(forwarding.local_port, "/nothing-here")
        assert missing.value.code == 404 and forwarding.connections == 3
        [active] = sessions(lab, "Active", forwarding.session_id)
        assert active["DocumentName"] == port.PORT_FORWARDING
    assert forwarding.closed is not None and forwarding.closed.output == ""  # TerminateSession, channel_closed
    [ended] = sessions(lab, "History", forwarding.session_id)
    assert ended["Status"] == "Terminated"


def test_ssh_answers_its_identification_line_then_closes(lab):
    lab, results = lab
    with forward(lab, results["instance"].instance_id, 22) as forwarding:
        with socket.create_connection(("127.0.0.1", forwarding.local_port), timeout=5) as conn:
            assert conn.recv(100) == b"SSH-2.0-OpenSSH_8.7\r\n"


def test_a_port_with_nothing_listening_is_refused_as_the_agent_refuses_it(lab):
    lab, results = lab
    with forward(lab, results["instance"].instance_id, 8080) as forwarding:
        closed = forwarding.wait(5)
        assert closed is not None
        assert closed.output == ("Unable to connect to specified port: dial tcp 127.0.0.1:8080: connect: "
                                 "connection refused")
        with pytest.raises(OSError):  # the local side has nothing to relay to any more
            get(forwarding.local_port)
    [ended] = sessions(lab, "History", forwarding.session_id)
    assert ended["Details"] == closed.output


def test_a_multiplexing_client_is_told_this_agent_does_not_multiplex(lab):
    """A client reporting 1.2.0.0 would get smux from a real agent (port.go GetSession): named, not faked."""
    lab, results = lab
    session = managed.start_session(lab, results["instance"].instance_id, document=port.PORT_FORWARDING,
                                    parameters={"portNumber": ["80"]})
    channel = client.Channel(client.open_channel(session.stream_url, session.token), session.session_id)
    try:
        with pytest.raises(client.ChannelClosed, match="does not do; report version 1.1.61.0"):
            while True:
                channel.receive(5)
        assert channel.handshake_complete and channel.session_type == "Port"
    finally:
        channel.ws.close()


def test_no_ssmmessages_no_port_session(emulator):
    lab = Lab("sf-nomessages", REGION, "emulator")
    results = build(lab, BuildOptions()).results
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    instance_id = results["instance"].instance_id
    ec2 = lab.client("ec2")
    vpc_id = results["network"].vpc_id
    endpoints = ec2.describe_vpc_endpoints(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "service-name", "Values": [f"com.amazonaws.{REGION}.ssmmessages"]}])["VpcEndpoints"]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[e["VpcEndpointId"] for e in endpoints])
    with pytest.raises(ClientError) as error:
        lab.client("ssm").start_session(Target=instance_id, DocumentName=port.PORT_FORWARDING,
                                        Parameters={"portNumber": ["80"]})
    assert error.value.response["Error"]["Code"] == "TargetNotConnected"
    with pytest.raises(LabError, match="is not connected"):
        forward(lab, instance_id, 80)


def test_ssmlab_forward_serves_a_get_until_it_is_stopped(lab, emulator):
    lab, results = lab
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local = probe.getsockname()[1]
    process = subprocess.Popen(
        [SSMLAB, "forward", "--lab", lab.name, "--region", REGION, "--port", "80", "--local-port", str(local)],
        env=emulator.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline() + process.stdout.readline()
        assert f"Forwarding 127.0.0.1:{local} -> {results['instance'].instance_id}:80 (Ctrl-C to stop)" in first
        try:
            status, page = get(local)
        except OSError as error:  # say what the command said
            process.send_signal(signal.SIGINT)
            raise AssertionError(f"GET failed: {error}; ssmlab forward said: {process.communicate(timeout=15)}")
        assert status == 200 and results["instance"].instance_id in page
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0, (out, err)
    assert "Exiting session with sessionId: " in out
    for args in (["--port", "0"], ["--port", "70000"], ["--port", "80", "--local-port", "-1"]):
        refused = emulator.cli("forward", "--lab", lab.name, "--region", REGION, *args)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    refused = emulator.cli("forward", "--lab", "sf-nosuch", "--region", REGION, "--port", "80")
    assert refused.returncode == 2 and "sf-nosuch" in refused.stderr, refused.stderr


# -- pure ----------------------------------------------------------------------------------------------------


def test_the_handshake_payloads_of_a_port_session():
    props = port.properties(port.PORT_FORWARDING, {"portNumber": ["80"], "localPortNumber": ["8080"]})
    request = json.loads(wire.handshake_request("3.3.1142.0", port.SESSION_TYPE, props))
    assert request == {"AgentVersion": "3.3.1142.0", "RequestedClientActions": [{
        "ActionType": "SessionType", "ActionParameters": {"SessionType": "Port", "Properties": {
            "portNumber": "80", "localPortNumber": "8080", "type": "LocalPortForwarding"}}}]}
    response = json.loads(wire.handshake_response(port.BASIC_CLIENT_VERSION,
                                                  [wire.processed_action("SessionType", wire.SUCCESS)], []))
    assert response == {"ClientVersion": "1.1.61.0", "Errors": None, "ProcessedClientActions": [
        {"ActionType": "SessionType", "ActionStatus": 1, "ActionResult": None, "Error": ""}]}
    assert json.loads(wire.handshake_complete(0.25)) == {"HandshakeTimeToComplete": 250_000_000,
                                                         "CustomerMessage": ""}
    assert not port.multiplexed(props, port.BASIC_CLIENT_VERSION) and port.multiplexed(props, "1.2.7.0")
    assert not port.multiplexed(port.properties(port.SSH, {}), "1.2.7.0")  # the SSH document: no listener
    assert port.properties(port.TO_REMOTE_HOST, {"host": ["db.internal"], "portNumber": ["5432"]}) == {
        "host": "db.internal", "portNumber": "5432", "localPortNumber": "0", "type": "LocalPortForwarding"}
    assert port.parameters_problem({"portNumber": ""}).startswith("Port number is empty in session properties.")


def test_start_parameters_and_bad_ports():
    assert port.start_parameters(80, 8080) == (port.PORT_FORWARDING, {"portNumber": ["80"],
                                                                      "localPortNumber": ["8080"]})
    assert port.start_parameters(5432, host="10.0.1.9")[0] == port.TO_REMOTE_HOST
    for bad in (0, 65536, "80a", -1, "080"):
        with pytest.raises(BadInput, match="expected a whole number from 1 to 65535"):
            port.start_parameters(bad)
    with pytest.raises(BadInput, match="local port"):
        port.start_parameters(80, 70000)
    assert [len(c) for c in port.chunks(b"x" * 2500)] == [1024, 1024, 452] and port.chunks(b"") == []


def test_the_simulated_web_server_answers_one_request_and_closes():
    server = services.WebServer("<p>hi</p>", now=0.0)
    assert server.receive(b"GET / HTTP/1.1\r\nHost: x\r\n") == (b"", False)  # the head is not complete yet
    answer, closes = server.receive(b"\r\n")
    head, body = answer.split(b"\r\n\r\n", 1)
    assert closes and head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b"<p>hi</p>"
    assert b"Content-Length: 9" in head and b"Connection: close" in head
    assert b"Date: Thu, 01 Jan 1970 00:00:00 GMT" in head
    assert services.WebServer("", 0).receive(b"POST / HTTP/1.1\r\n\r\n")[0].startswith(b"HTTP/1.1 405 ")
    assert services.WebServer("", 0).receive(b"nonsense\r\n\r\n")[0].startswith(b"HTTP/1.1 400 ")



def test_the_web_server_sends_n_bytes_for_get_bytes_n():
    answer, closes = services.WebServer("", 0).receive(b"GET /bytes/300 HTTP/1.1\r\n\r\n")
    head, body = answer.split(b"\r\n\r\n", 1)
    assert closes and head.startswith(b"HTTP/1.1 200 OK\r\n") and body == bytes(range(256)) + bytes(range(44))
    assert b"Content-Length: 300\r\n" in head and b"Content-Type: application/octet-stream\r\n" in head
    assert services.WebServer("", 0).receive(b"GET /bytes/0 HTTP/1.1\r\n\r\n")[0].endswith(b"Content-Length: 0"
                                                                                         b"\r\nConnection: close\r\n\r\n")
    head_only, _ = services.WebServer("", 0).receive(b"HEAD /bytes/5000 HTTP/1.1\r\n\r\n")
    assert head_only.endswith(b"\r\n\r\n") and b"Content-Length: 5000\r\n" in head_only
    for bad in (b"-1", b"x", b"1e3", f"{services.MAX_BYTES + 1}".encode(), "٣".encode()):
        answer, closes = services.WebServer("", 0).receive(b"GET /bytes/" + bad + b" HTTP/1.1\r\n\r\n")
        assert closes and answer.startswith(b"HTTP/1.1 400 ") and b"GET /bytes/N takes N from 0 to" in answer


def test_12_mib_of_get_bytes_n_through_the_forward_arrive_whole(lab):
    lab, results = lab
    size = 12 * 1024 * 1024 + 7  # over ~10 MiB stalled before max_queue=None (datachannel.py); not a multiple of 1024
    with forward(lab, results["instance"].instance_id, 80) as forwarding:
        with urllib.request.urlopen(f"http://127.0.0.1:{forwarding.local_port}/bytes/{size}", timeout=10) as response:
            body = response.read()
    assert body == (bytes(range(256)) * (size // 256 + 1))[:size]
