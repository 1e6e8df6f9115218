"""Who may see the facilitator's dashboard, and how they sign in.

The dashboard shows every participant's lab, so it is the facilitator's alone:
- in class mode (a roster), the class's facilitator token: `Authorization: Bearer TOKEN` for scripts, or
  `?token=TOKEN` once in a browser, which is traded for a session cookie and taken out of the address bar
  (so it is not left in the history, a screen share or a Referer);
- when the emulator runs as a JupyterHub service, the hub's OAuth sign-in (`hub_oauth`), admins only: a
  browser that is not signed in is sent to the hub and comes back signed in;
- with neither (a learner's own emulator, no class), anyone on this machine: the emulator then answers every
  AWS call on loopback with dummy keys, so the dashboard shows nothing its API does not; other hosts are refused.

Sessions are cookies signed with HMAC (HttpOnly, SameSite=Strict, Secure behind https): no server-side store,
so any of the server's threads can check one. In class mode the key is derived from the class secret, so a
facilitator stays signed in across an emulator restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import ipaddress
import json
import logging
import re
import secrets
import time
import urllib.parse
from typing import Any, Callable, Iterable

from .hub_oauth import HubError, HubOAuth, new_verifier
from .wsgi import send, send_json

log = logging.getLogger("ssmlab.emulator")

SESSION_COOKIE = "ssmlab-dashboard"
STATE_COOKIE = "ssmlab-dashboard-oauth"
SESSION_SECONDS = 12 * 3600  # a class day
STATE_SECONDS = 600  # a sign-in at the hub must come back within ten minutes
HOW_TO_SIGN_IN = ("Open this page with the class's facilitator token, once: <code>{page}?token=TOKEN</code>. "
                  "The token comes with the class's keys (from its roster file or its class secret); scripts send "
                  "it as <code>Authorization: Bearer TOKEN</code>.")


class Signer:
    """Values only this emulator (or one of the same class) could have made, each with its expiry."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, payload: dict[str, Any], seconds: int) -> str:
        body = _b64(json.dumps({**payload, "exp": int(time.time()) + seconds}, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def unsign(self, value: str | None) -> dict[str, Any] | None:
        body, _, mac = (value or "").partition(".")
        if not body or not _same(mac, self._mac(body)):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return payload if isinstance(payload, dict) and payload.get("exp", 0) > time.time() else None

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


class Access:
    """Checks each request to the dashboard's routes; answers those that may not see it."""

    def __init__(self, token: str | None, hub: HubOAuth | None, key: bytes | None = None) -> None:
        self.token = token  # the facilitator token (class mode), None without a class
        self.hub = hub
        self.signer = Signer(key or secrets.token_bytes(32))  # without a class: sessions last as long as the process

    @property
    def open_on_loopback(self) -> bool:
        return self.token is None and self.hub is None

    def base(self, environ: dict[str, Any]) -> str:
        """The path the routes were reached under: the hub's service prefix behind its proxy, else /ssmlab/."""
        if self.hub and environ.get("PATH_INFO", "").startswith(self.hub.prefix):
            return self.hub.prefix
        return "/ssmlab/"

    def who(self, environ: dict[str, Any]) -> str | None:
        """Who is asking, if they may see the class: the facilitator, a hub admin's name, or `local`."""
        given = environ.get("HTTP_AUTHORIZATION", "")
        if self.token and given[:7].lower() == "bearer " and _same(given[7:].strip(), self.token):
            return "facilitator"
        session = self.signer.unsign(_cookies(environ).get(SESSION_COOKIE))
        if session and isinstance(session.get("who"), str):
            return session["who"]
        if self.open_on_loopback and _is_loopback(environ.get("REMOTE_ADDR", "")):
            return "local"
        return None

    def sign_in_with_token(self, environ: dict[str, Any], start_response: Callable[..., Any],
                           given: str) -> list[bytes]:
        """`?token=`: a session cookie, and the same page again without the token in its address."""
        page = environ.get("PATH_INFO", "")
        given = given.strip().replace(" ", "+")  # a token's "+" pasted into an address bar arrives as a space
        if not self.token or not _same(given, self.token):
            return self._message(start_response, "401 Unauthorized", "That token is not this class's",
                                 HOW_TO_SIGN_IN.format(page=html.escape(page)))
        rest = [(k, v) for k, v in urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")) if k != "token"]
        cookie = self._cookie(environ, SESSION_COOKIE, self.signer.sign({"who": "facilitator"}, SESSION_SECONDS),
                              SESSION_SECONDS)
        return _signed_in(start_response, _url(page, rest), [cookie])

    def refuse(self, environ: dict[str, Any], start_response: Callable[..., Any], *, page: bool) -> list[bytes]:
        """Nobody signed in: a browser goes to the hub's sign-in when there is a hub; otherwise how to sign in."""
        here = self.base(environ) + "class"
        if page and self.hub:
            return self._to_hub(environ, start_response)
        if self.open_on_loopback:
            status, why = "403 Forbidden", ("This emulator runs no class, so its dashboard answers only on this "
                                            "machine. Start it in class mode (<code>--class FILE</code> or "
                                            "<code>$SSMLAB_CLASS_SECRET</code>) to open it from elsewhere.")
        elif self.token:
            status, why = "401 Unauthorized", HOW_TO_SIGN_IN.format(page=html.escape(here))
        else:
            status, why = "401 Unauthorized", f'Sign in as an admin of the hub: open <code>{html.escape(here)}</code>.'
        if page:
            return self._message(start_response, status, "The class dashboard is for its facilitator", why)
        return send_json(start_response, {"ok": False, "error": _text(why)}, status)

    def callback(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """The hub sends the browser back here with a code: an admin gets a session, anyone else a refusal."""
        assert self.hub is not None
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
        again = html.escape(self.hub.prefix + "class")
        pending = self.signer.unsign(_cookies(environ).get(STATE_COOKIE)) or {}
        if not query.get("state") or not _same(str(pending.get("state", "")), query["state"]):
            return self._message(start_response, "403 Forbidden", "This sign-in is not the one this browser began",
                                 f'It may have expired. Start again at <a href="{again}">{again}</a>.')
        if not query.get("code"):
            return self._message(start_response, "403 Forbidden", "The hub did not sign you in",
                                 html.escape(query.get("error_description") or query.get("error") or "no code"))
        try:
            user = self.hub.user_for_code(query["code"], str(pending.get("verifier", "")))
        except HubError as failed:
            log.warning("dashboard sign-in failed: %s", failed)
            return self._message(start_response, "502 Bad Gateway", "The hub could not confirm who you are",
                                 f'{html.escape(str(failed))}. <a href="{again}">Try again</a>.')
        forget = self._cookie(environ, STATE_COOKIE, "", 0)
        if user.get("admin") is not True:
            log.info("dashboard refused to hub user %r (not an admin)", user["name"])
            return self._message(start_response, "403 Forbidden", "The class dashboard is for the hub's admins",
                                 f"You are signed in to the hub as <b>{html.escape(user['name'])}</b>, who is not "
                                 "one of its admins.", [forget])
        session = self._cookie(environ, SESSION_COOKIE, self.signer.sign({"who": user["name"]}, SESSION_SECONDS),
                               SESSION_SECONDS)
        log.info("dashboard signed in hub admin %r", user["name"])
        return _signed_in(start_response, str(pending.get("next") or self.hub.prefix + "class"), [session, forget])

    def _to_hub(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        assert self.hub is not None
        state, verifier = secrets.token_urlsafe(16), new_verifier()
        back = _url(environ.get("PATH_INFO", ""), urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
        pending = self.signer.sign({"state": state, "verifier": verifier, "next": back}, STATE_SECONDS)
        # Lax, not Strict: the browser comes back to the callback from the hub's page (the same site behind the
        # hub's proxy, but a hub on its own host name would otherwise lose it).
        cookie = self._cookie(environ, STATE_COOKIE, pending, STATE_SECONDS, same_site="Lax")
        return _redirect(start_response, self.hub.login_url(state, verifier), [cookie])

    def _cookie(self, environ: dict[str, Any], name: str, value: str, seconds: int,
                same_site: str = "Strict") -> tuple[str, str]:
        secure = "; Secure" if _is_https(environ) else ""
        return ("Set-Cookie", f"{name}={value}; Path={self.base(environ)}; Max-Age={seconds}; HttpOnly; "
                              f"SameSite={same_site}{secure}")

    @staticmethod
    def _message(start_response: Callable[..., Any], status: str, title: str, body_html: str,
                 headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
        page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
                '<meta name="viewport" content="width=device-width, initial-scale=1"><style>body{font:16px/1.5 '
                'system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}code{background:#eee;'
                f'padding:0 .2em}}</style></head><body><h1>{html.escape(title)}</h1><p>{body_html}</p></body></html>')
        extra = [("WWW-Authenticate", 'Bearer realm="ssmlab class"')] if status.startswith("401") else []
        return send(start_response, (status, [("Content-Type", "text/html; charset=utf-8"), *NO_STORE, *extra,
                                              *headers], page.encode()))


NO_STORE = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]


def _redirect(start_response: Callable[..., Any], location: str, headers: list[tuple[str, str]]) -> list[bytes]:
    return send(start_response, ("302 Found", [("Location", location), *NO_STORE, *headers], b""))


def _signed_in(start_response: Callable[..., Any], location: str, cookies: list[tuple[str, str]]) -> list[bytes]:
    """Set the session and go on to `location` from a page of this site, not with a 302: a browser that arrived
    from another site (a link in a mail, the hub on its own host) carries that site along a redirect chain, and
    then holds back the SameSite=Strict cookie just set: a 401, or a loop through the hub's sign-in."""
    where = html.escape(location)
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url='
            f'{where}"><title>Signed in</title></head><body><p>Signed in: <a href="{where}">open the class dashboard'
            '</a>.</p></body></html>')
    return send(start_response, ("200 OK", [("Content-Type", "text/html; charset=utf-8"), *NO_STORE, *cookies],
                                 page.encode()))


def _url(path: str, query: list[tuple[str, str]]) -> str:
    quoted = urllib.parse.quote(path)
    return quoted + ("?" + urllib.parse.urlencode(query) if query else "")


def _cookies(environ: dict[str, Any]) -> dict[str, str]:
    """The request's cookies, read leniently: a hub's domain carries other apps' cookies, in any shape."""
    found: dict[str, str] = {}
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name not in found:
            found[name] = value.strip().strip('"')
    return found


def _same(given: str, expected: str) -> bool:
    """In constant time, and for any text a client sends (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def _is_https(environ: dict[str, Any]) -> bool:
    return environ.get("wsgi.url_scheme") == "https" or environ.get("HTTP_X_FORWARDED_PROTO", "").startswith("https")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _text(markup: str) -> str:
    """A message's words without its markup, for the JSON answer."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))
