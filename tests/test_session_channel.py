"""The Session Manager data channel over real sockets: StartSession's StreamUrl on the emulator, opened by
`ssmlab.session.client` (websocket-client) and served by `emulator/datachannel.py` (websockets). Lines are
answered by the emulator's test-only echo responder (`control.set_responder`), so nothing here depends on
what the simulated instance prints."""

from __future__ import annotations

import contextlib
import io
import sys

import pytest
from botocore.exceptions import ClientError

from ssmlab import cli, managed
from ssmlab.build import BuildOptions, build
from ssmlab.emulator import control
from ssmlab.emulator.agent import AGENT_START_DELAY
from ssmlab.lab import Lab
from ssmlab.session import client
from ssmlab.session.client import ChannelClosed

pytestmark = pytest.mark.emulator
REGION = "us-east-2"  # no other emulator test builds here


def echo_lab(name: str) -> tuple[Lab, dict]:
    lab = Lab(name, REGION, "emulator")
    results = build(lab, BuildOptions()).results
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    control.set_responder(lab, results["instance"].instance_id, "echo")
    return lab, results


@pytest.fixture(scope="module")
def lab(emulator):
    return echo_lab("sc-shell")


def status(lab: Lab, session_id: str) -> str:
    found = lab.client("ssm").describe_sessions(State="History", Filters=[{"key": "SessionId", "value": session_id}])
    return found["Sessions"][0]["Status"] if found["Sessions"] else "Active"


def test_a_shell_session_from_prompt_to_exit(lab):
    lab, results = lab
    with client.open_shell(lab, results["instance"].instance_id) as shell:
        assert shell.prompt == "echo$ " and shell.session_id
        assert shell.run("hello world") == ("hello world\n", 0)
        assert shell.run("false") == ("false\n", 1)
        assert status(lab, shell.session_id) == "Active"
    assert shell.closed is not None and shell.closed.output == ""  # exit: channel_closed, the shell's end
    assert status(lab, shell.session_id) == "Terminated"


def test_a_token_opens_one_channel_and_only_its_own_session(lab):
    lab, results = lab
    session = managed.start_session(lab, results["instance"].instance_id)
    with client.connect(session.stream_url, session.token, session.session_id, marker=False) as shell:
        with pytest.raises(ChannelClosed, match="the token was used already"):
            client.connect(session.stream_url, session.token, session.session_id, marker=False)
        with pytest.raises(ChannelClosed, match="the token is not valid for this session"):
            client.connect(session.stream_url, "not-the-token", session.session_id, marker=False)
        assert shell.run("still here") == ("still here\n", 0)  # the refused ones changed nothing


def test_a_malformed_frame_closes_its_channel_only(lab):
    lab, results = lab
    instance_id = results["instance"].instance_id
    with client.open_shell(lab, instance_id) as broken, client.open_shell(lab, instance_id) as other:
        broken.ws.send_bytes(b"\x00\x00\x00\x74" + b"x" * 200)  # a header with a payload length that lies
        with pytest.raises(ChannelClosed, match="malformed frame: PayloadLength"):
            broken.read_until(lambda *_: False, 5)
        assert other.run("fine") == ("fine\n", 0)
    with client.open_shell(lab, instance_id) as again:
        assert again.run("and again") == ("and again\n", 0)


def test_connect_reads_stdin_line_by_line_and_refuses_bad_input(lab, emulator, monkeypatch):
    lab, results = lab
    monkeypatch.setattr(sys, "stdin", io.StringIO("hi there\nexit\n"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["connect", "--lab", lab.name, "--region", REGION])
    assert code == 0
    assert out.getvalue().startswith("echo$ hi there\nhi there\necho$ exit\n")
    assert "Exiting session with sessionId: " in out.getvalue()
    for args in (["--lab", "sc-nosuch"], ["--lab", lab.name, "--instance-id", "i-0123456789abcdef0"],
                 ["--lab", lab.name, "--instance-id", "box"]):
        refused = emulator.cli("connect", *args, "--region", REGION)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr


def test_the_channel_needs_the_agents_ssmmessages_path(emulator):
    lab, results = echo_lab("sc-nomessages")
    instance_id = results["instance"].instance_id
    shell = client.open_shell(lab, instance_id)
    assert shell.run("before") == ("before\n", 0)
    endpoint = results["endpoints"].get("ssmmessages").endpoint_id
    lab.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    with pytest.raises(ChannelClosed, match="lost its channel to ssmmessages") as closed:
        shell.run("after")
    assert closed.value.output and status(lab, shell.session_id) == "Terminated"
    shell.close()
    with pytest.raises(ClientError) as error:
        lab.client("ssm").start_session(Target=instance_id)
    assert error.value.response["Error"]["Code"] == "TargetNotConnected"
