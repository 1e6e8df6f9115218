"""Session transcripts: what the agent writes to CloudWatch Logs and S3 for a shell that ran (`transcript`, pure;
`emulator/session_log.py` over real sockets: StartSession, the data channel, the writes, the read-back)."""

from __future__ import annotations

import json

import pytest

from ssmlab import managed, notebook, transcript
from ssmlab.build import BuildOptions, build
from ssmlab.emulator import control
from ssmlab.emulator.agent import AGENT_START_DELAY
from ssmlab.errors import LabError
from ssmlab.lab import Lab
from ssmlab.session.client import open_shell

REGION = "eu-central-1"  # the preferences are region-wide: no other test builds here
TERMINAL = "sh-5.2$ hostname\r\nip-10-0-1-5\r\n\x1b[1;32msh-5.2$\x1b[0m ech\b \bo\t<a&b>\r\nexit\r\n"


def test_streamed_events_are_json_lines_without_escape_sequences_or_carriage_returns():
    (event,) = transcript.streamed_events(TERMINAL, {"sessionId": "s-1"}, "2026-01-01T00:00:00Z")
    assert event.startswith('{"eventVersion":"1.0","eventTime":"2026-01-01T00:00:00Z","sessionId":"s-1",')
    assert "\\u003ca\\u0026b\\u003e" in event  # Go's json.Marshal escapes <, > and & (HTML-safe)
    assert json.loads(event)["sessionData"] == ["sh-5.2$ hostname", "ip-10-0-1-5", "sh-5.2$ ech\b \bo <a&b>", "exit"]


def test_uploaded_transcripts_keep_control_characters_and_split_where_the_agent_does():
    assert transcript.uploaded_events(TERMINAL) == [TERMINAL.replace("\r\n", "\n")[:-1]]
    long = "x" * 99 + "\n"
    events = transcript.streamed_events(long * 700, {}, "t")  # 70,000 bytes: three events of <= 33,000
    assert [len(json.loads(e)["sessionData"]) for e in events] == [330, 330, 40]
    assert transcript.uploaded_events("") == []


def test_the_s3_key_is_joined_as_go_joins_paths():
    assert [transcript.s3_key(p, "s-1") for p in ("sessions/", "sessions", "", "a//b/")] == [
        "sessions/s-1.log", "sessions/s-1.log", "s-1.log", "a/b/s-1.log"]


@pytest.fixture(scope="module")
def logged(emulator):
    lab = Lab("tr-logged", REGION, "emulator")
    results = build(lab, BuildOptions(session_logging=("cloudwatch", "s3"))).results
    control.advance_clock(lab, AGENT_START_DELAY + 5)
    return lab, results


@pytest.mark.emulator
def test_a_shell_session_leaves_its_transcript_in_cloudwatch_and_s3(logged):
    lab, results = logged
    instance_id = results["instance"].instance_id
    with open_shell(lab, instance_id) as shell:
        hostname, _ = shell.run("hostname")
        shell.run("whoami")
    record = notebook.session_record(lab, shell.session_id)
    # Streamed (cloudWatchStreamingEnabled): JSON events whose sessionData are the terminal's lines.
    event = json.loads(record["cloudwatch"][0])
    assert event["sessionId"] == shell.session_id and event["target"] == {"id": instance_id}
    assert event["runAsUser"] == "ssm-user" and event["awsRegion"] == REGION
    lines = record["cloudwatch_lines"]
    assert lines[0] == f"{shell.prompt}hostname" and lines[1] == hostname.strip()  # the echo, then the answer
    assert f"{shell.prompt}whoami" in lines and "ssm-user" in lines and lines[-1] == f"{shell.prompt}exit"
    # S3: the terminal as it was, carriage returns and all, at <prefix>/<session id>.log.
    assert record["s3"].startswith(f"{shell.prompt}hostname\r\n{hostname.strip()}\r\n")
    assert record["s3"].endswith("exit\r\n") and "no shell ran" not in record["s3"]


@pytest.mark.emulator
def test_a_session_without_a_channel_gets_the_emulators_line_only(logged):
    lab, results = logged
    session = managed.start_session(lab, results["instance"].instance_id)
    assert notebook.session_record(lab, session.session_id)["cloudwatch"] == []  # nothing until it ends
    managed.end_session(lab, session.session_id)
    record = notebook.session_record(lab, session.session_id)
    assert len(record["cloudwatch"]) == 1 and record["cloudwatch"][0].startswith("ssmlab emulator: simulated session")
    assert "no data channel was opened, so no shell ran" in record["s3"]


@pytest.mark.emulator
def test_a_path_broken_during_the_session_loses_the_transcript_and_a_broken_one_refuses_the_next(logged):
    lab, results = logged
    instance_id = results["instance"].instance_id
    logs_endpoint = results["session-logging"].logs_endpoint_id
    with open_shell(lab, instance_id) as shell:
        shell.run("hostname")
        lab.client("ec2").delete_vpc_endpoints(VpcEndpointIds=[logs_endpoint])
    record = notebook.session_record(lab, shell.session_id)
    assert record["cloudwatch"] == [] and "hostname" in record["s3"]  # S3 is still reachable through its gateway
    assert any("Error Creating Log Stream for CloudWatchLogs output: cannot reach logs" in line
               for line in control.agents(lab, instance_id)["agents"][0]["files"]["/var/log/amazon/ssm/amazon-ssm-agent.log"])
    with pytest.raises(LabError, match="cannot reach logs"):
        open_shell(lab, instance_id)
    build(lab, BuildOptions(session_logging=("cloudwatch", "s3")))  # the step puts the endpoint back
