"""The facilitator's dashboard: the hub's OAuth sign-in against a fake hub, the facilitator's token, and one read
of the class shared by every open dashboard. The page itself, in a headless Chromium on a class's emulator with two
participants, is checked in tests/test_classmode.py (one emulator for both)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from werkzeug.test import Client

from ssmlab.emulator import dashboard
from ssmlab.emulator.dashboard import MAX_AGE, MIN_AGE, ClassStatus, ReadFailed
from ssmlab.emulator.hub_oauth import challenge

SECRET = "dashboard-test-secret-0123456789"
REGION = "ap-northeast-2"  # no other emulator test builds here, and the price snapshot prices its endpoints


# -- the hub's OAuth sign-in, against a fake hub -------------------------------------------------------------

class FakeHub(ThreadingHTTPServer):
    """JupyterHub's two API calls a service's sign-in makes: the code for a token, the token for its user."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.users = {"code-ada": {"name": "ada", "admin": True}, "code-bea": {"name": "bea", "admin": False}}
        self.challenges: list[str] = []  # the PKCE challenges the browser brought to the authorize page
        self.token_requests: list[dict] = []

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hub/api"


class _HubHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
        self.server.token_requests.append(form)
        right = (form.get("client_id") == "service-ssmlab" and form.get("client_secret") == "service-api-token"
                 and form.get("grant_type") == "authorization_code" and form.get("code") in self.server.users
                 and challenge(form.get("code_verifier", "")) in self.server.challenges)
        self._answer(200, {"access_token": "token-" + form["code"]} if right else {"error": "invalid_grant"},
                     right)

    def do_GET(self) -> None:
        code = self.headers.get("Authorization", "").removeprefix("token token-")
        user = self.server.users.get(code)
        self._answer(200 if user else 403, user or {"message": "no such token"}, True)

    def _answer(self, status: int, body: dict, ok: bool) -> None:
        data = json.dumps(body).encode()
        self.send_response(status if ok else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def hub():
    server = FakeHub()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def routes_only(routes: dict):
    """The WSGI dispatch of the emulator's own routes, without moto behind it."""
    def app(environ, start_response):
        return routes[(environ["REQUEST_METHOD"], environ["PATH_INFO"])](environ, start_response)
    return app


def hub_dashboard(hub: FakeHub) -> Client:
    fake = SimpleNamespace(routes={}, generation=0, call_log=None)
    dashboard.install(fake, None, environ={
        "JUPYTERHUB_API_TOKEN": "service-api-token", "JUPYTERHUB_CLIENT_ID": "service-ssmlab",
        "JUPYTERHUB_API_URL": hub.api_url, "JUPYTERHUB_SERVICE_PREFIX": "/services/ssmlab/",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": "/services/ssmlab/oauth_callback", "JUPYTERHUB_BASE_URL": "/"})
    return Client(routes_only(fake.routes))


def sign_in_at_hub(browser: Client, hub: FakeHub, code: str, *, state: str | None = None):
    """Open the page, go to the hub (which signs the user in and sends them back with `code`), follow back."""
    to_hub = browser.get("/services/ssmlab/class")
    assert to_hub.status_code == 302
    where = urllib.parse.urlsplit(to_hub.headers["Location"])
    asked = dict(urllib.parse.parse_qsl(where.query))
    assert where.path == "/hub/api/oauth2/authorize" and asked["client_id"] == "service-ssmlab"
    assert asked["redirect_uri"] == "/services/ssmlab/oauth_callback" and asked["code_challenge_method"] == "S256"
    hub.challenges.append(asked["code_challenge"])
    return browser.get("/services/ssmlab/oauth_callback", query_string={"code": code, "state": state or asked["state"]})


def test_a_hub_admin_is_signed_in_and_sees_the_page(hub):
    browser = hub_dashboard(hub)
    back = sign_in_at_hub(browser, hub, "code-ada")
    assert back.status_code == 200 and 'url=/services/ssmlab/class"' in back.text  # on to the page, signed in
    page = browser.get("/services/ssmlab/class")
    assert page.status_code == 200 and "Class dashboard" in page.text
    assert "script-src 'sha256-" in page.headers["Content-Security-Policy"]
    assert browser.get("/services/ssmlab/").headers["Location"] == "/services/ssmlab/class"  # the hub's menu link


def test_a_hub_user_who_is_not_an_admin_is_refused(hub):
    browser = hub_dashboard(hub)
    refused = sign_in_at_hub(browser, hub, "code-bea")
    assert refused.status_code == 403 and "bea" in refused.text and "not" in refused.text
    assert browser.get("/services/ssmlab/class").status_code == 302  # still not signed in: back to the hub
    assert browser.get("/services/ssmlab/class/status").status_code == 401


def test_a_sign_in_this_browser_did_not_begin_is_refused(hub):
    browser = hub_dashboard(hub)
    forged = sign_in_at_hub(browser, hub, "code-ada", state="forged-state")
    assert forged.status_code == 403 and hub.token_requests == []  # the code was never even exchanged
    stranger = hub_dashboard(hub)  # another browser: no sign-in of its own pending
    assert stranger.get("/services/ssmlab/oauth_callback?code=code-ada&state=x").status_code == 403


def test_the_facilitator_token_signs_a_browser_in_once_and_nothing_else_does():
    fake = SimpleNamespace(routes={}, generation=0, call_log=None)
    dashboard.install(fake, SimpleNamespace(secret=SECRET, dashboard_token="to+ken/0123", region=None), environ={})
    browser = Client(routes_only(fake.routes))
    local = {"REMOTE_ADDR": "127.0.0.1"}  # a class's dashboard is not open on loopback: the hub's proxy is local
    refused = browser.get("/ssmlab/class", environ_overrides=local)
    assert refused.status_code == 401 and "?token=TOKEN" in refused.text
    assert browser.get("/ssmlab/class?token=%C3%A9", environ_overrides=local).status_code == 401
    signed_in = browser.get("/ssmlab/class?token=to+ken/0123&region=us-east-1")  # "+" as pasted: a space
    assert signed_in.status_code == 200 and 'url=/ssmlab/class?region=us-east-1"' in signed_in.text
    cookie = {part.strip() for part in signed_in.headers["Set-Cookie"].split(";")}
    assert {"HttpOnly", "SameSite=Strict", "Path=/ssmlab/"} <= cookie
    assert browser.get("/ssmlab/class").status_code == 200
    assert Client(routes_only(fake.routes)).get(  # a script: the token in a header, no cookie
        "/ssmlab/class", headers={"Authorization": "Bearer to+ken/0123"}).status_code == 200


def test_without_a_class_or_a_hub_the_dashboard_answers_this_machine_only():
    fake = SimpleNamespace(routes={}, generation=0, call_log=None)
    dashboard.install(fake, None, environ={})
    browser = Client(routes_only(fake.routes))
    assert browser.get("/ssmlab/class", environ_overrides={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    elsewhere = browser.get("/ssmlab/class", environ_overrides={"REMOTE_ADDR": "10.0.0.7"})
    assert elsewhere.status_code == 403 and "class mode" in elsewhere.text


# -- one read of the class for every open dashboard ------------------------------------------------------------

def test_open_dashboards_share_one_read_while_nothing_changes():
    now, generation, reads = [100.0], [0], []

    def read(region):
        reads.append(region)
        if region == "broken":
            raise RuntimeError("moto fell over")
        return {"region": region, "participants": []}

    status = ClassStatus(read, lambda: generation[0], clock=lambda: now[0])
    for _ in range(5):  # five open dashboards asking at once
        assert status.get(REGION)[0]["region"] == REGION
    assert reads == [REGION]
    now[0] += MIN_AGE + 0.1
    assert status.get(REGION)[1] == pytest.approx(MIN_AGE + 0.1) and reads == [REGION]  # nothing changed
    generation[0] += 1  # a participant built something
    status.get(REGION)
    assert reads == [REGION, REGION]
    now[0] += MAX_AGE  # the agents change ping status without any request: read again anyway
    status.get(REGION)
    assert reads == [REGION] * 3
    with pytest.raises(ReadFailed, match="moto fell over"):
        status.get("broken")
    with pytest.raises(ReadFailed):
        status.get("broken")
    assert reads.count("broken") == 1  # a failing read is not retried by every poll
