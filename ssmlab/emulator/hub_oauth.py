"""Sign a facilitator in with the JupyterHub that runs the emulator as its service: OAuth 2, the hub as provider.

JupyterHub gives a managed service everything the flow needs in its environment: its OAuth client
(`JUPYTERHUB_CLIENT_ID`, with `JUPYTERHUB_API_TOKEN` as the client secret), the callback it registered
(`JUPYTERHUB_OAUTH_CALLBACK_URL`), its API (`JUPYTERHUB_API_URL`) and the public prefix the hub's proxy serves it
under (`JUPYTERHUB_SERVICE_PREFIX`, which the proxy does not strip). The steps are those of
`jupyterhub.services.auth.HubOAuth`, written here with urllib: HubOAuth runs on tornado's event loop and the
emulator answers in WSGI threads, and the emulator must not need jupyterhub installed to start.

1. the browser is sent to the hub's authorize URL with a random state and a PKCE challenge (RFC 7636);
2. the hub sends it back to the callback with a code;
3. the code is exchanged at `$JUPYTERHUB_API_URL/oauth2/token` for an access token, and `GET
   $JUPYTERHUB_API_URL/user` with it gives the user's model, whose `admin` says who may see the class.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping

TIMEOUT = 10.0
NEEDED = ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "JUPYTERHUB_CLIENT_ID")


class HubError(Exception):
    """The hub refused the sign-in, or did not answer: the message says which, for the facilitator."""


@dataclass(frozen=True)
class HubOAuth:
    client_id: str
    client_secret: str  # the service's API token: JupyterHub's OAuth provider takes it as the client secret
    api_url: str  # where the emulator reaches the hub's API (often an internal address)
    authorize_url: str  # where the browser signs in (the hub's public path, relative unless JUPYTERHUB_HOST)
    callback_url: str  # as registered with the hub: the hub only sends a code back there
    prefix: str  # the public path the proxy serves the service under, e.g. /services/ssmlab/

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HubOAuth | None:
        """The hub this process is a service of, or None when it is not one (no hub in the environment)."""
        if not all(environ.get(name) for name in NEEDED):
            return None
        base = environ.get("JUPYTERHUB_BASE_URL") or "/"
        hub_prefix = base.rstrip("/") + "/hub/"
        prefix = (environ.get("JUPYTERHUB_SERVICE_PREFIX") or "/services/ssmlab/").rstrip("/") + "/"
        return cls(
            client_id=environ["JUPYTERHUB_CLIENT_ID"],
            client_secret=environ["JUPYTERHUB_API_TOKEN"],
            api_url=environ["JUPYTERHUB_API_URL"].rstrip("/"),
            authorize_url=(environ.get("JUPYTERHUB_HOST") or "") + hub_prefix + "api/oauth2/authorize",
            callback_url=environ.get("JUPYTERHUB_OAUTH_CALLBACK_URL") or prefix + "oauth_callback",
            prefix=prefix,
        )

    @property
    def callback_path(self) -> str:
        return urllib.parse.urlsplit(self.callback_url).path

    def login_url(self, state: str, verifier: str) -> str:
        """Where to send the browser: the hub asks who they are (if it does not know yet) and comes back."""
        return self.authorize_url + "?" + urllib.parse.urlencode({
            "client_id": self.client_id, "redirect_uri": self.callback_url, "response_type": "code", "state": state,
            "code_challenge": challenge(verifier), "code_challenge_method": "S256"})

    def user_for_code(self, code: str, verifier: str) -> dict[str, Any]:
        """The hub's model of the user who signed in (`name`, `admin`, ...); HubError when the hub says no."""
        form = urllib.parse.urlencode({
            "client_id": self.client_id, "client_secret": self.client_secret, "grant_type": "authorization_code",
            "code": code, "redirect_uri": self.callback_url, "code_verifier": verifier}).encode()
        token = self._call("/oauth2/token", data=form,
                           headers={"Content-Type": "application/x-www-form-urlencoded"}).get("access_token")
        if not isinstance(token, str) or not token:
            raise HubError("the hub gave no access token for the sign-in code")
        user = self._call("/user", headers={"Authorization": f"token {token}"})
        if not isinstance(user.get("name"), str):
            raise HubError("the hub's answer names no user")
        return user

    def _call(self, path: str, *, data: bytes | None = None, headers: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(self.api_url + path, data=data, headers={"Accept": "application/json",
                                                                                  **headers})
        # The hub's API is the hub's own address, never reached through a proxy (as HubAuth's tornado client).
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=TIMEOUT) as answer:
                body = json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as refused:
            raise HubError(f"the hub refused {path} ({refused.code}: {_reason(refused)})") from None
        except (OSError, ValueError) as failed:
            raise HubError(f"the hub's API at {self.api_url} did not answer {path} ({failed})") from None
        if not isinstance(body, dict):
            raise HubError(f"the hub answered {path} with no JSON object")
        return body


def new_verifier() -> str:
    return secrets.token_urlsafe(32)


def challenge(verifier: str) -> str:
    """PKCE's S256 challenge: the hub checks the verifier against it, so a stolen code is of no use alone."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _reason(refused: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(refused.read() or b"{}")
    except (OSError, ValueError):
        return refused.reason
    if isinstance(body, dict):
        return str(body.get("error_description") or body.get("error") or body.get("message") or refused.reason)
    return str(refused.reason)
