"""`curl` on the instance: IMDS (169.254.169.254) from the instance and its profile, and HTTPS to a service as
`netpath.path` allows it. Nothing leaves the process. Pure.

IMDS (Amazon EC2 User Guide, "Use the Instance Metadata Service to access instance metadata", "How Instance
Metadata Service Version 2 works"): PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1-21600)
gives a session token; a GET with X-aws-ec2-metadata-token answers; without a token it answers only when
HttpTokens is optional, else 401 Unauthorized; a bad TTL is 400; a missing item is IMDS's XHTML 404 page;
iam/ exists only with an instance profile, iam/security-credentials/<role> gives the role's keys.
curl's words (curl 8, lib/connect.c): "Failed to connect to H port P after N ms: <reason>", exit 28 when the
connect timed out; "Could not resolve host" is 6; -f turns a 4xx into "The requested URL returned error: N", 22.
Without --connect-timeout/-m, Linux gives up a connect after 127 s (tcp_syn_retries 6: kernel ip-sysctl docs).
The simulation's own choices: IMDS switched off is taken as silent (curl times out); tokens do not expire;
the credentials are AWS's documentation example keys; a role that does not trust ec2.amazonaws.com gives
{"Code": "AssumeRoleUnauthorizedAccess", ...} (as public issues quote it); what a service answers to a bare
GET is not modelled — a "# ssmlab:" line says the connection was made; only tcp/443 to services is judged.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta

from ssmlab import netpath, policy
from ssmlab.instance import dns
from ssmlab.instance.host import private_name
from ssmlab.model import Instance, LabState

IMDS = "169.254.169.254"
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "x-aws-ec2-metadata-token"
KERNEL_CONNECT_MS = 127_000
NOTE = dns.NOTE
BOOLEAN = {"s": "silent", "S": "show_error", "f": "fail", "i": "include", "k": None, "L": None}
WITH_VALUE = {"X": "method", "H": "header", "m": "max_time"}
LONG = {"--silent": "s", "--show-error": "S", "--fail": "f", "--include": "i", "--insecure": "k", "--location": "L",
        "--request": "X", "--header": "H", "--max-time": "m"}
STATUS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}


@dataclass
class Request:
    url: str = ""
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    timeout: float | None = None  # --connect-timeout or -m, seconds


@dataclass(frozen=True)
class Reply:
    stdout: str
    stderr: str
    code: int


def parse(args: list[str]) -> Request | str:
    """curl's arguments, or the error line for one the simulation does not take (-o would write a file)."""
    request, rest = Request(), list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--connect-timeout" or arg in ("-m", "--max-time"):
            if not rest:
                return f"curl: option {arg}: requires parameter"
            try:
                value = float(rest.pop(0))
            except ValueError:
                return f"curl: option {arg}: expected a proper numerical parameter"
            request.timeout = value if request.timeout is None else min(request.timeout, value)
        elif arg.startswith("--"):
            short = LONG.get(arg)
            if short is None:
                return f"{NOTE}curl {arg} is not simulated (only -s -S -f -i -k -L -X -H -m --connect-timeout; nothing is written)"
            rest.insert(0, "-" + short)
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            for at, letter in enumerate(letters):
                if letter in BOOLEAN:
                    request.flags.add(letter)
                elif letter in WITH_VALUE:
                    value = letters[at + 1:] or (rest.pop(0) if rest else None)
                    if value is None:
                        return f"curl: option -{letter}: requires parameter"
                    if letter == "X":
                        request.method = value
                    elif letter == "H":
                        name, _, text = value.partition(":")
                        request.headers[name.strip().lower()] = text.strip()
                    else:
                        rest.insert(0, value)
                        rest.insert(0, "-m" if letter == "m" else arg)
                    break
                else:
                    return f"{NOTE}curl -{letter} is not simulated (only -s -S -f -i -k -L -X -H -m --connect-timeout; nothing is written)"
        elif not request.url:
            request.url = arg
    return request if request.url else "curl: no URL specified!\ncurl: try 'curl --help' or 'curl --manual' for more information"


def _split_url(url: str) -> tuple[str, str, int, str]:
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "http", url
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    return scheme.lower(), host.strip("[]"), int(port) if port.isdigit() else (443 if scheme.lower() == "https" else 80), "/" + path


def _fail_connect(request: Request, host: str, port: int, why: str = "") -> Reply:
    if request.timeout is not None:
        text = f"curl: (28) Failed to connect to {host} port {port} after {int(request.timeout * 1000)} ms: Timeout was reached"
    else:
        text = f"curl: (28) Failed to connect to {host} port {port} after {KERNEL_CONNECT_MS} ms: Couldn't connect to server"
    shown = "s" not in request.flags or "S" in request.flags
    return Reply("", (f"{NOTE}{why}\n" if why else "") + (text + "\n" if shown else ""), 28)


def _page(status: int) -> str:
    """IMDS's XHTML error page."""
    title = f"{status} - {STATUS[status]}"
    return ('<?xml version="1.0" encoding="iso-8859-1"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
            '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
            '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
            f" <head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n </body>\n</html>\n")


def _http(request: Request, status: int, body: str, kind: str = "text/plain") -> Reply:
    if status >= 400 and "f" in request.flags:
        shown = "s" not in request.flags or "S" in request.flags
        return Reply("", f"curl: (22) The requested URL returned error: {status}\n" if shown else "", 22)
    head = ""
    if "i" in request.flags:
        head = (f"HTTP/1.1 {status} {STATUS[status]}\nContent-Type: {kind}\nContent-Length: {len(body.encode())}\n"
                "Connection: close\nServer: EC2ws\n\n")
    return Reply(head + body, "", 0)


def token_for(instance_id: str, serial: int) -> str:
    digest = hashlib.sha256(f"{instance_id}/{serial}".encode()).digest()
    return ("AQAEA" + base64.b64encode(digest + digest[:8]).decode())[:54] + "=="


def _stamp(state: LabState, instance: Instance, hours: int = 0) -> str:
    when = state.taken_at or instance.launch_time
    if when is None:
        return "2026-01-01T00:00:00Z" if not hours else "2026-01-01T06:00:00Z"
    return f"{when.replace(microsecond=0) + timedelta(hours=hours):%Y-%m-%dT%H:%M:%SZ}"


def _metadata(state: LabState, instance: Instance, path: str) -> tuple[int, str]:
    """An IMDS item under /latest/meta-data/."""
    subnet = state.subnet(instance.subnet_id or "")
    role = state.instance_role(instance)
    profile = state.profile(instance.profile_arn)
    items = {
        "ami-id": instance.image_id, "instance-id": instance.instance_id, "instance-type": instance.instance_type,
        "local-ipv4": instance.private_ip or "", "local-hostname": private_name(state, instance),
        "hostname": private_name(state, instance), "placement/availability-zone": subnet.az if subnet else "",
        "placement/region": state.region,
        "security-groups": "\n".join((g.name if (g := state.security_group(i)) else i) for i in instance.group_ids),
    }
    if instance.public_ip:
        items["public-ipv4"] = instance.public_ip
    if profile is not None and role is not None:
        items["iam/info"] = json.dumps({"Code": "Success", "LastUpdated": _stamp(state, instance),
                                        "InstanceProfileArn": profile.arn,
                                        "InstanceProfileId": "AIPA" + hashlib.sha1(profile.arn.encode()).hexdigest()[:17].upper()},
                                       indent=2).replace('": ', '" : ')
        items[f"iam/security-credentials/{role.name}"] = _credentials(state, instance, role)
    path = path.strip("/")
    if path in items:
        return 200, items[path]
    prefix = f"{path}/" if path else ""
    children = sorted({key[len(prefix):].split("/")[0] + ("/" if "/" in key[len(prefix):] else "")
                       for key in items if key.startswith(prefix)})
    if path == "iam/security-credentials" and role is not None and profile is not None:
        return 200, role.name
    if children:
        return 200, "\n".join(children)
    return 404, _page(404)


def _credentials(state: LabState, instance: Instance, role) -> str:
    if not policy.trusts_service(role.trust_policy, "ec2.amazonaws.com"):
        return json.dumps({"Code": "AssumeRoleUnauthorizedAccess", "Message": f"EC2 cannot assume the role {role.name}.",
                           "LastUpdated": _stamp(state, instance)}, indent=2).replace('": ', '" : ')
    return json.dumps({"Code": "Success", "LastUpdated": _stamp(state, instance), "Type": "AWS-HMAC",
                       "AccessKeyId": "ASIAIOSFODNN7EXAMPLE", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                       "Token": "token", "Expiration": _stamp(state, instance, 6)}, indent=2).replace('": ', '" : ')


def imds(state: LabState, instance: Instance, request: Request, path: str, tokens: set[str], serial: int) -> tuple[Reply, str | None]:
    """IMDS's answer, and the token it issued (if it did)."""
    if instance.imds.http_endpoint == "disabled":
        return _fail_connect(request, IMDS, 80, f"IMDS is disabled on {instance.instance_id} (HttpEndpoint disabled); "
                                                "that it stays silent is the simulation's choice"), None
    method = request.method.upper()
    if path.rstrip("/") == "/latest/api/token":
        if method != "PUT":
            return _http(request, 405, _page(405), "text/html"), None
        ttl = request.headers.get(TTL_HEADER, "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return _http(request, 400, _page(400), "text/html"), None
        token = token_for(instance.instance_id, serial)
        return _http(request, 200, token), token
    given = request.headers.get(TOKEN_HEADER)
    if (given is not None and given not in tokens) or (given is None and instance.imds.http_tokens == "required"):
        return _http(request, 401, _page(401), "text/html"), None
    if method not in ("GET", "HEAD"):
        return _http(request, 405, _page(405), "text/html"), None
    if path.rstrip("/") in ("/latest", ""):
        return _http(request, 200, "dynamic\nmeta-data\nuser-data" if path else "latest"), None
    if not path.startswith("/latest/meta-data"):
        return _http(request, 404, _page(404), "text/html"), None
    status, body = _metadata(state, instance, path[len("/latest/meta-data"):])
    return _http(request, status, body, "text/plain" if status == 200 else "text/html"), None


def _endpoint_service(state: LabState, address: str) -> str | None:
    """The service whose interface endpoint owns this private IP, if any."""
    eni = next((n for n in state.network_interfaces if n.private_ip == address), None)
    found = next((e for e in state.endpoints if eni and eni.eni_id in e.network_interface_ids), None)
    return found.service if found else None


def https(state: LabState, instance: Instance, request: Request, host: str, port: int, stub: bool) -> Reply:
    """A connection to `host`:`port`, judged hop by hop by netpath (tcp/443)."""
    service = dns.service_of(host, state.region) or _endpoint_service(state, host)
    if not host.replace(".", "").isdigit():
        found = dns.lookup(state, instance, host, stub)
        if found.status != "NOERROR":
            shown = "s" not in request.flags or "S" in request.flags
            return Reply("", f"curl: (6) Could not resolve host: {host}\n" if shown else "", 6)
    if port != 443:
        return _fail_connect(request, host, port, "only tcp/443 is modelled: nothing in the lab listens on "
                                                  f"port {port} for {host}")
    target = service or host
    path = netpath.path(state, instance.instance_id, target)
    if path.reachable:
        return Reply(f"{NOTE}connected to {host} port 443 ({path.resolution.detail}); what the "
                     "service answers to a bare GET is not modelled\n", "", 0)
    hop = path.first_failure
    why = hop.detail if hop else "no path"
    if service is None:  # not an AWS service: netpath's words name the host as if it were one
        why = why.replace(netpath.hostname(host, state.region), host).split(", and there is no interface endpoint")[0]
        why = f"no path to the internet: {why}"
    return _fail_connect(request, host, port, f"the {hop.name if hop else 'first'} hop fails: {why}")


def meter(size: int) -> str:
    """curl's progress meter (lib/progress.c), as it shows on stderr when stdout is not the terminal."""
    speed = size * 1000
    shown = f"{speed:>5}" if speed < 100000 else f"{speed // 1024:>4}k"
    return ("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
            "                                 Dload  Upload   Total   Spent    Left  Speed\n"
            f"100 {size:>5}  100 {size:>5}    0     0  {shown}      0 --:--:-- --:--:-- --:--:-- {shown}\n")
