"""A class on JupyterHub, end to end: deploy/jupyterhub's config starts the emulator as a hub-managed service, two
participants' servers are spawned through the hub's REST API, and in each a kernel runs notebook 01's cells
against the shared emulator, each building its own lab with its own keys.

The hub runs deploy/jupyterhub/try_config.py (the documented config with DummyAuthenticator and
SimpleLocalProcessSpawner) from a config this test writes: free ports, a temporary state directory, and an API
token for the test. It needs `jupyterhub` (the dev extra) and `configurable-http-proxy` (npm; .ci/run installs
it). Everything the hub starts is stopped, and anything left is killed, whatever the outcome.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ssmlab import classkeys, hubservice, settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "jupyterhub"
JUPYTERHUB = Path(sys.executable).with_name("jupyterhub")
USERS = ("alice", "bob.smith")  # the second is no valid lab name: its lab is the name made one
NOTEBOOK = ROOT / "notebooks" / "01_network.ipynb"
CHECK_CELL = """\
import json, os
print("SMOKE " + json.dumps({"env_lab": os.environ.get("SSMLAB_LAB"), "lab": lab.name, "endpoint": lab.endpoint_url,
    "key": os.environ.get("SSMLAB_ACCESS_KEY_ID"), "vpc": results["network"].vpc_id}))
"""


# -- unit: the pieces the configs call ----------------------------------------------------------------------------


def test_the_class_secret_is_written_once_and_kept_with_the_participants_added_since(tmp_path):
    path = tmp_path / "hub" / "class.json"
    secret = hubservice.class_roster(path).secret
    assert len(secret) >= classkeys.MIN_SECRET_LENGTH and path.stat().st_mode & 0o777 == 0o600
    path.write_text(json.dumps(classkeys.roster(secret, ["alice", "bob.smith"]).to_json()))  # `class roster`'s
    again = hubservice.class_roster(path)
    assert again.secret == secret and set(again.users.values()) == {"alice", "bob.smith"}


def test_each_participant_gets_their_lab_their_keys_and_the_emulator(tmp_path):
    secret = classkeys.new_secret()
    entry = hubservice.service(secret, 8765, tmp_path)
    assert entry["url"] == "http://127.0.0.1:8765" and entry["oauth_no_confirm"]
    assert entry["command"][-6:] == ["emulator", "serve", "--host", "127.0.0.1", "--port", "8765"]
    assert entry["environment"][classkeys.SECRET_VAR] == secret
    spawner = type("Spawner", (), {"user": type("User", (), {"name": "Bob.Smith"})()})()
    environ = {name: value(spawner) for name, value in hubservice.spawner_environment(secret, entry["url"]).items()}
    assert environ == classkeys.participant_environ(secret, "Bob.Smith", entry["url"])
    assert environ["SSMLAB_LAB"] == settings.lab_name_for_user("Bob.Smith") != "bob.smith"


def test_the_notebooks_are_copied_once_and_a_participants_own_copy_is_kept(tmp_path):
    target = tmp_path / "home" / "ssmlab" / "notebooks"
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(hubservice.copy_notebooks(notebooks, target)) == len(notebooks)
    (target / NOTEBOOK.name).write_text("{}")  # the participant's work
    assert hubservice.copy_notebooks(notebooks, target) == []
    assert (target / NOTEBOOK.name).read_text() == "{}"


# -- the hub ------------------------------------------------------------------------------------------------------


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Hub:
    """A running hub, its log, and the REST calls the test makes through its proxy."""

    def __init__(self, tmp: Path) -> None:
        import requests

        self.public, hub_port, proxy_api, self.emulator_port = _free_ports(4)
        self.url, self.emulator_url = f"http://127.0.0.1:{self.public}", f"http://127.0.0.1:{self.emulator_port}"
        self.token = secrets.token_hex(16)
        self.dir, self.log_path = tmp / "hub", tmp / "hub.log"
        config = tmp / "smoke_config.py"
        config.write_text(f"""\
c = get_config()
load_subconfig({str(DEPLOY / "try_config.py")!r})
c.JupyterHub.bind_url = "http://127.0.0.1:{self.public}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api}"
c.JupyterHub.services.append({{"name": "smoke-test", "api_token": {self.token!r}}})
c.JupyterHub.load_roles = [{{"name": "smoke-test", "services": ["smoke-test"],
    "scopes": ["admin:users", "admin:servers", "access:servers", "read:services"]}}]
""")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SSMLAB_", "JUPYTERHUB_", "AWS_"))}
        env.update(SSMLAB_HUB_DIR=str(self.dir), SSMLAB_EMULATOR_PORT=str(self.emulator_port))
        with open(self.log_path, "wb") as log:  # the hub's, the proxy's, the emulator's and the servers' output
            self.proc = subprocess.Popen([str(JUPYTERHUB), "-f", str(config)], cwd=tmp, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {self.token}"

    def log(self, lines: int = 150) -> str:
        text = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return "\n".join(text[-lines:])

    def fail(self, what: str) -> None:
        pytest.fail(f"{what}\n--- the hub's log (hub, proxy, emulator, servers), last lines ---\n{self.log()}")

    def api(self, method: str, path: str, **kwargs):
        return self.http.request(method, f"{self.url}/hub/api{path}", timeout=30, **kwargs)

    def wait(self, what: str, ready, budget: float) -> None:
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.fail(f"the hub exited ({self.proc.returncode}) while waiting for {what}")
            try:
                if ready():
                    return
            except OSError:  # not listening yet (requests' ConnectionError is an OSError)
                pass
            time.sleep(0.2)
        self.fail(f"no {what} within {budget:.0f} s")

    def stop(self) -> None:
        """The hub killed first (so it cannot start its proxy again, as it does when the proxy dies), then
        everything it started told to stop (SIGTERM: the emulator removes its state file, the servers their
        runtime files) and killed if still alive after 1 s. Not the hub's own orderly shutdown, which stops them
        one after another and is not what this test is about. Each child runs in its own session
        (LocalProcessSpawner's start_new_session), hence the process tree, taken before the hub goes."""
        import psutil

        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        self.proc.kill()
        self.proc.wait(timeout=5)
        for process in children:
            try:
                process.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(children, timeout=1)
        for process in alive:
            process.kill()
        psutil.wait_procs(alive, timeout=5)


@pytest.fixture
def hub(tmp_path):
    missing = [name for name, found in (("jupyterhub", JUPYTERHUB.exists()),
                                        ("configurable-http-proxy", shutil.which("configurable-http-proxy")))
               if not found]
    if missing:
        reason = f"{' and '.join(missing)} not installed (pip install -e '.[dev]'; npm install -g configurable-http-proxy)"
        if os.environ.get("CI"):  # .ci/run installs both: missing there is a failure, not a skip
            pytest.fail(reason)
        pytest.skip(reason)
    running = Hub(tmp_path)
    try:
        running.wait("hub answering through its proxy", lambda: running.api("GET", "/").ok, budget=45)
        running.wait("emulator service answering", lambda: running.http.get(
            f"{running.emulator_url}/ssmlab/health", timeout=5).ok, budget=30)
        yield running
    finally:
        running.stop()


def _notebook_cells() -> list[str]:
    """Notebook 01's cells as a participant runs them, up to its first exercise: the parameters (lab_name left
    empty: the participant's $SSMLAB_LAB), the lab, the network step, what inventory reads back."""
    cells = []
    for cell in json.loads(NOTEBOOK.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        if "exercise" in cell["metadata"].get("tags", []):
            break
        cells.append("".join(cell["source"]))
    return cells


def _run_in_kernel(hub: Hub, user: str, cells: list[str], budget: float = 60) -> tuple[str, str]:
    """Start a kernel in the user's server (through the proxy, with the test's token) and execute `cells` one
    by one over the kernel's websocket, as JupyterLab does; (all printed output, the first error or "")."""
    try:
        return _execute(hub, user, cells, budget)
    except Exception as exc:  # the server or the proxy: reported with the hub's log, not as a bare traceback
        return "", f"{type(exc).__name__}: {exc}"


def _execute(hub: Hub, user: str, cells: list[str], budget: float) -> tuple[str, str]:
    import websocket

    base = f"{hub.url}/user/{user}/api/kernels"
    answer = hub.http.post(base, json={"name": "python3"}, timeout=30)
    answer.raise_for_status()
    kernel = answer.json()["id"]
    ws = websocket.create_connection(f"ws://127.0.0.1:{hub.public}/user/{user}/api/kernels/{kernel}/channels",
                                     header=[f"Authorization: token {hub.token}"], timeout=budget)
    printed, session = [], uuid.uuid4().hex
    try:
        for code in cells:
            msg_id = uuid.uuid4().hex
            ws.send(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session, "username": user,
                           "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            replied = idle = False
            while not (replied and idle):
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    printed.append(content["text"])
                elif kind == "error":
                    return "".join(printed), f"{content['ename']}: {content['evalue']} in cell:\n{code}"
                elif kind == "execute_reply":
                    replied = True
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
    finally:
        ws.close()
        hub.http.delete(f"{base}/{kernel}", timeout=30)  # as closing the notebook does: nothing left running
    return "".join(printed), ""


def test_two_participants_build_their_own_labs_on_the_hubs_emulator_and_the_facilitator_sees_both(hub):
    service = hub.api("GET", "/services/ssmlab").json()
    assert service.get("command") and service.get("prefix") == "/services/ssmlab/", service  # hub-managed, proxied
    emulator_url = hub.emulator_url
    assert service.get("url") == emulator_url, service

    answer = hub.api("POST", "/users", json={"usernames": list(USERS)})
    assert answer.status_code == 201, answer.text
    with ThreadPoolExecutor(len(USERS)) as pool:  # together, as a class arrives: each POST waits for its spawn
        started = dict(zip(USERS, pool.map(lambda user: hub.api("POST", f"/users/{user}/server"), USERS)))
    for user, answer in started.items():
        if answer.status_code not in (201, 202):
            hub.fail(f"starting {user}'s server: {answer.status_code} {answer.text}")

    def ready(user: str) -> bool:
        return bool(hub.api("GET", f"/users/{user}").json()["servers"].get("", {}).get("ready"))

    for user in USERS:
        hub.wait(f"{user}'s server", lambda user=user: ready(user), budget=45)

    cells = [*_notebook_cells(), CHECK_CELL]
    with ThreadPoolExecutor(len(USERS)) as pool:
        runs = dict(zip(USERS, pool.map(lambda user: _run_in_kernel(hub, user, cells), USERS)))
    seen = {}
    for user, (printed, error) in runs.items():
        if error:
            hub.fail(f"{user}'s kernel failed: {error}\n--- its output ---\n{printed}")
        line = next((ln for ln in printed.splitlines() if ln.startswith("SMOKE ")), None)
        assert line, printed
        seen[user] = json.loads(line[len("SMOKE "):])

    secret = classkeys.load(hub.dir / "class.json").secret
    for user, found in seen.items():
        lab = settings.lab_name_for_user(user)
        assert found["env_lab"] == found["lab"] == lab, found
        assert found["key"] == classkeys.participant_credentials(secret, lab).access_key_id, found
        assert found["endpoint"] == emulator_url, found  # directly, not through the proxy
    assert seen["bob.smith"]["lab"] != "bob.smith"  # made a valid lab name
    assert seen["alice"]["vpc"] != seen["bob.smith"]["vpc"]

    # On the shared emulator, as the facilitator sees it: each lab's VPC, tagged with that lab.
    facilitator = _ec2(emulator_url, classkeys.roster(secret).facilitator)
    for found in seen.values():
        vpcs = facilitator.describe_vpcs(Filters=[{"Name": "tag:ssmlab:lab", "Values": [found["lab"]]}])["Vpcs"]
        assert [vpc["VpcId"] for vpc in vpcs] == [found["vpc"]], (found, vpcs)
    # The hub's emulator runs the class: keys it did not derive are refused, and a participant's keys reach
    # only their own lab.
    from botocore.exceptions import ClientError

    for keys, act, refusal in (
            (classkeys.Credentials("AKIDUMMY", "dummy"), lambda ec2: ec2.describe_vpcs(), "AuthFailure"),
            (classkeys.participant_credentials(secret, "alice"), lambda ec2: ec2.create_tags(
                Resources=[seen["bob.smith"]["vpc"]], Tags=[{"Key": "Name", "Value": "taken"}]),
             "UnauthorizedOperation")):
        with pytest.raises(ClientError) as refused:
            act(_ec2(emulator_url, keys))
        assert refused.value.response["Error"]["Code"] == refusal

    # The facilitator's dashboard, through the proxy at /services/ssmlab/: the emulator signs an admin in with
    # the hub's OAuth (no confirmation page: oauth_no_confirm) and shows both labs; a participant is refused by
    # the hub, whose default roles give `access:services` to admins only.
    browser = _signed_in(hub, "admin")
    browser.get(f"{hub.url}/services/ssmlab/", timeout=30)  # hub OAuth, then the dashboard's own cookie
    board = browser.get(f"{hub.url}/services/ssmlab/class/status", timeout=60, allow_redirects=False)
    if board.status_code != 200:
        hub.fail(f"the facilitator's dashboard: {board.status_code}\n{board.text[-800:]}")
    rows = {row["lab"]: row["reached"] for row in board.json()["participants"]}
    assert rows == {found["lab"]: "network" for found in seen.values()}, board.text
    refused = _signed_in(hub, "carol").get(f"{hub.url}/services/ssmlab/", timeout=30)
    assert refused.status_code == 403, (refused.status_code, refused.url)


def _ec2(emulator_url: str, keys: classkeys.Credentials):
    import boto3

    return boto3.client("ec2", region_name=settings.DEFAULT_REGION, endpoint_url=emulator_url,
                        aws_access_key_id=keys.access_key_id, aws_secret_access_key=keys.secret_access_key)


def _signed_in(hub: Hub, user: str):
    """A browser's session signed in to the hub as `user` (DummyAuthenticator: any password)."""
    import requests

    browser = requests.Session()
    browser.get(f"{hub.url}/hub/login", timeout=30)
    answer = browser.post(f"{hub.url}/hub/login", data={"username": user, "password": "x",
                                                        "_xsrf": browser.cookies.get("_xsrf", "")},
                          timeout=30, allow_redirects=False)  # not on to /hub/spawn: no server needed
    assert answer.status_code == 302 and browser.cookies.get("jupyterhub-session-id"), (answer.status_code, answer.text)
    return browser
