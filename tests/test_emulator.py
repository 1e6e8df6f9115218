"""The emulator's lifecycle, exercised for real: child processes, HTTP, signals.

Each test gets its own state directory (SSMLAB_STATE_DIR) and stops what it started.
Most tests share one module-scoped emulator so the file stays well under 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import ssmlab.emulator as emulator
from ssmlab.emulator import commands, state
from ssmlab.errors import BadInput, EmulatorUnreachable

pytestmark = pytest.mark.emulator

REGION = "ap-northeast-1"
ENV_TO_CLEAR = ("SSMLAB_EMULATOR_URL", "AWS_ENDPOINT_URL", "HTTP_PROXY", "HTTPS_PROXY",
                "http_proxy", "https_proxy")


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """One emulator for the module: (status, state dir)."""
    with pytest.MonkeyPatch.context() as mp:
        directory = tmp_path_factory.mktemp("state")
        mp.setenv("SSMLAB_STATE_DIR", str(directory))
        for name in ENV_TO_CLEAR:
            mp.delenv(name, raising=False)
        status = emulator.start()
        try:
            yield status, directory
        finally:
            emulator.stop()


@pytest.fixture
def fresh_dir(tmp_path, monkeypatch):
    """An empty state directory of our own; stops anything started in it."""
    monkeypatch.setenv("SSMLAB_STATE_DIR", str(tmp_path))
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    yield tmp_path
    emulator.stop()


@pytest.fixture
def use_running(running, monkeypatch):
    """Point this test at the module's emulator (a function fixture may have moved it)."""
    monkeypatch.setenv("SSMLAB_STATE_DIR", str(running[1]))
    return running[0]


@pytest.fixture
def silent_server():
    """A TCP socket that accepts connections (backlog) but never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def ec2_client(url: str):
    import boto3

    return boto3.client("ec2", region_name=REGION, endpoint_url=url, aws_access_key_id="testing",
                        aws_secret_access_key="testing", aws_session_token="testing")


def get_json(url: str) -> tuple[int, dict]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def run_command(argv: list[str]) -> int:
    """Parse like the main CLI will (register + args.func) and run the handler."""
    parser = argparse.ArgumentParser(prog="ssmlab")
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while state.pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- the shared emulator ---------------------------------------------------------------

def test_start_runs_a_healthy_emulator_on_a_free_port(use_running, running):
    status = use_running
    assert status.running
    port = int(status.endpoint_url.rsplit(":", 1)[1])
    assert status.endpoint_url.startswith("http://127.0.0.1:") and port != 5000
    assert state.pid_alive(status.pid) and status.pid != os.getpid()
    assert emulator.status() == status
    recorded = json.loads((running[1] / "emulator.json").read_text())
    assert recorded["pid"] == status.pid and recorded["port"] == port
    assert {"host", "endpoint_url", "log_path", "started_at"} <= recorded.keys()  # the first answer's time: make bench


def test_second_start_reuses_the_running_emulator(use_running):
    again = emulator.start()
    assert (again.pid, again.endpoint_url) == (use_running.pid, use_running.endpoint_url)


def test_start_refuses_to_move_a_running_emulator_to_another_port(use_running):
    port = int(use_running.endpoint_url.rsplit(":", 1)[1])
    with pytest.raises(BadInput, match="already running"):
        emulator.start(port=port + 1 if port < 65535 else port - 1)
    assert emulator.start(port=port).pid == use_running.pid


def test_health_route_answers_json(use_running):
    code, body = get_json(use_running.endpoint_url + "/ssmlab/health")
    assert code == 200
    assert body["ok"] is True and body["pid"] == use_running.pid
    assert body["moto_version"].startswith("5.") and "T" in body["started_at"]
    code, body = get_json(use_running.endpoint_url + "/ssmlab/nope")
    assert code == 404 and body["ok"] is False


def test_boto3_ec2_client_reaches_moto(use_running):
    vpcs = ec2_client(use_running.endpoint_url).describe_vpcs()["Vpcs"]
    assert any(v["IsDefault"] for v in vpcs)


def test_moto_settings_are_in_effect(use_running):
    import boto3
    from botocore.exceptions import ClientError

    iam = boto3.client("iam", region_name=REGION, endpoint_url=use_running.endpoint_url,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Arn"] == arn
    with pytest.raises(ClientError) as caught:
        ec2_client(use_running.endpoint_url).run_instances(
            ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro")
    assert caught.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_log_file_says_where_it_serves_and_the_call_log_holds_the_requests(use_running):
    ec2_client(use_running.endpoint_url).describe_vpcs()
    text = Path(use_running.log_path).read_text()
    assert "serving at " + use_running.endpoint_url in text
    assert '"POST / HTTP/1.1" 200' not in text  # no line per request: the call log has each AWS call
    with urllib.request.urlopen(use_running.endpoint_url + "/ssmlab/calls?action=DescribeVpcs", timeout=5) as answer:
        assert json.load(answer)["calls"]


def test_status_command_json_and_exit_code(use_running, capsys):
    assert run_command(["emulator", "status", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"running": True, "endpoint_url": use_running.endpoint_url,
                   "pid": use_running.pid, "log_path": use_running.log_path}
    assert run_command(["emulator", "status"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"emulator running at {use_running.endpoint_url} (pid {use_running.pid}")


def test_start_command_prints_one_line(use_running, capsys):
    assert run_command(["emulator", "start"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and f"(pid {use_running.pid}" in out


def test_env_command_and_client_environ(use_running, capsys, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "corp.example")
    environ = emulator.client_environ()
    url = use_running.endpoint_url
    assert environ == {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                       "SSMLAB_TARGET": "emulator", "SSMLAB_EMULATOR_URL": url,
                       "NO_PROXY": "corp.example,127.0.0.1,localhost", "no_proxy": "corp.example,127.0.0.1,localhost"}
    assert run_command(["emulator", "env"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert dict(shlex.split(line)[1].split("=", 1) for line in lines) == environ
    assert all(line.startswith("export ") for line in lines)


def test_explicit_url_is_used_without_starting_anything(use_running, monkeypatch, tmp_path):
    monkeypatch.setenv("SSMLAB_STATE_DIR", str(tmp_path))  # nothing running "here"
    monkeypatch.setenv("SSMLAB_EMULATOR_URL", use_running.endpoint_url + "/")
    assert emulator.endpoint_url() == use_running.endpoint_url
    assert not (tmp_path / "emulator.json").exists()


def test_foreground_serve_refuses_a_second_emulator(use_running):
    with pytest.raises(BadInput, match="already running"):
        emulator.serve()


# --- lifecycles of their own -----------------------------------------------------------

def test_endpoint_url_autostarts_then_stop_cleans_up(fresh_dir, capfd):
    with pytest.raises(EmulatorUnreachable, match="not running"):
        emulator.endpoint_url(autostart=False)
    url = emulator.endpoint_url()
    status = emulator.status()
    assert status.running and status.endpoint_url == url
    assert capfd.readouterr() == ("", "")  # the child's output went to the log only

    stopped = emulator.stop()
    assert not stopped.running and stopped.pid is None
    assert wait_gone(status.pid, 1.0)
    assert not (fresh_dir / "emulator.json").exists()
    assert not emulator.status().running
    assert emulator.stop() == stopped  # a no-op the second time
    assert "stopping (pid" in (fresh_dir / "emulator.log").read_text()


def test_stale_state_file_is_replaced(fresh_dir):
    pid = dead_pid()
    state.write_state({"pid": pid, "host": "127.0.0.1", "port": 9, "endpoint_url": "http://127.0.0.1:9",
                       "log_path": None, "started_at": "2020-01-01T00:00:00+00:00"})
    assert emulator.status() == emulator.EmulatorStatus(False, None, None, None)
    started = emulator.start()
    assert started.running and started.pid != pid
    assert state.read_state()["pid"] == started.pid


def test_recycled_pid_is_neither_trusted_nor_signalled(fresh_dir):
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        state.write_state({"pid": bystander.pid, "endpoint_url": "http://127.0.0.1:9"})
        assert not emulator.status().running
        assert emulator.stop().running is False
        assert bystander.poll() is None  # stop() must not kill a process that is not ours
        state.write_state({"pid": bystander.pid, "endpoint_url": "http://127.0.0.1:9"})
        assert emulator.start().pid != bystander.pid
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_concurrent_starts_spawn_one_server(fresh_dir):
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(emulator.start())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 3 and len({(r.pid, r.endpoint_url) for r in results}) == 1
    assert (fresh_dir / "emulator.log").read_text().count("start requested") == 1


def test_port_in_use_is_bad_input(fresh_dir):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    try:
        with pytest.raises(BadInput, match="cannot listen"):
            emulator.start(port=blocker.getsockname()[1])
    finally:
        blocker.close()
    with pytest.raises(BadInput, match="not a TCP port"):
        emulator.start(port=70000)


def test_silent_explicit_url_fails_fast(fresh_dir, silent_server, monkeypatch):
    monkeypatch.setenv("SSMLAB_EMULATOR_URL", silent_server)
    began = time.monotonic()
    with pytest.raises(EmulatorUnreachable) as caught:
        emulator.endpoint_url()
    assert time.monotonic() - began < 5.0
    message = str(caught.value)
    assert silent_server in message and "SSMLAB_EMULATOR_URL" in message and "\n" not in message
    assert not (fresh_dir / "emulator.json").exists()  # nothing was started


def test_live_but_mute_emulator_is_reported_then_killed(fresh_dir, silent_server, capsys):
    # A process that looks like an emulator (its command line), ignores SIGTERM, and
    # whose URL never answers: endpoint_url() must say so, stop() must SIGKILL it.
    mute = subprocess.Popen([sys.executable, "-c",
                             "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                             "print('ready', flush=True); time.sleep(60)", "ssmlab", "emulator"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert mute.stdout.readline().strip() == "ready"
        log = str(fresh_dir / "emulator.log")
        state.write_state({"pid": mute.pid, "endpoint_url": silent_server, "log_path": log})
        began = time.monotonic()
        with pytest.raises(EmulatorUnreachable) as caught:
            emulator.endpoint_url()
        assert time.monotonic() - began < 5.0
        message = str(caught.value)
        assert str(mute.pid) in message and silent_server in message and log in message
        assert "ssmlab emulator stop" in message

        assert run_command(["emulator", "status", "--json"]) == commands.NOT_RUNNING
        assert json.loads(capsys.readouterr().out)["running"] is False

        emulator.stop(timeout=0.5)
        assert mute.wait(5) != 0  # killed
        assert not (fresh_dir / "emulator.json").exists()
    finally:
        if mute.poll() is None:
            mute.kill()
            mute.wait()
        mute.stdout.close()


def test_status_command_when_nothing_runs(fresh_dir, capsys):
    assert run_command(["emulator", "status", "--json"]) == commands.NOT_RUNNING
    assert json.loads(capsys.readouterr().out) == {"running": False, "endpoint_url": None,
                                                    "pid": None, "log_path": None}
    assert run_command(["emulator", "stop"]) == 0
    assert capsys.readouterr().out.strip() == "emulator not running"


def test_state_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("SSMLAB_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state.state_dir() == tmp_path / "xdg" / "ssmlab"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state.state_dir() == tmp_path / "home" / ".local" / "state" / "ssmlab"


def test_import_is_light():
    code = ("import ssmlab.emulator, sys; "
            "heavy = [m for m in ('moto', 'flask', 'boto3', 'botocore', 'werkzeug') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_time_scale_is_set_at_start_and_reported_by_the_clock(tmp_path, monkeypatch):
    monkeypatch.setenv("SSMLAB_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("SSMLAB_EMULATOR_URL", raising=False)
    started = emulator.start(time_scale=120)
    try:
        with urllib.request.urlopen(started.endpoint_url + "/ssmlab/clock", timeout=5) as response:
            assert json.loads(response.read())["scale"] == 120
        with pytest.raises(BadInput, match="already running with time scale 120"):
            emulator.start(time_scale=60)
        assert emulator.start(time_scale=120).pid == started.pid
        with pytest.raises(BadInput, match="positive number"):
            emulator.start(time_scale=0)
    finally:
        emulator.stop()
