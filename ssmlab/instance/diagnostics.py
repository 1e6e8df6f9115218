"""`ssm-cli get-diagnostics [--output table]`: the agent's own checks, each answered over the lab's state. Pure.

aws/amazon-ssm-agent, `agent/cli/clicommand/getdiagnostics.go` and `agent/cli/diagnostics/*.go`: the checks run
in priority order — EC2 IMDS (1), Hybrid instance registration (2), a 1-second TCP dial to ssm, ec2messages,
ssmmessages, s3, kms, logs and monitoring on 443 (3), AWS Credentials through STS GetCallerIdentity with a
2-second deadline (4), Agent service (5), Proxy configuration (6), SSM Agent version (9) — each a
{Check, Status, Note} with the notes' exact format strings. Without the instance's identity (IMDS) the
connectivity and credentials checks are Skipped. It refuses to run as anyone but root ("binary needs to be
executed by root", `common/utility/utilty_unix.go`), and prints JSON (Go's MarshalIndent, which escapes <, >
and &) or the table of `agent/cli/diagnosticsutil/diagnosticsutil.go` (80 columns; the Note column narrows to
fit, never below its longest word). Exit status 0 either way (`agent/cli/cli.go`).
The simulation's own choices: the Go error texts after "is not reachable:" and "Failed call sts endpoint:"
(the forms Go's net package gives for a DNS or connect timeout); the simulated agent's version counts as the
latest when s3 is reachable (the real check reads the latest from the agent's release bucket); credentials
expire six hours after the snapshot.
"""

from __future__ import annotations

import json
from datetime import timedelta

from ssmlab import netpath, policy, registration
from ssmlab.instance import dns
from ssmlab.model import Instance, LabState

SERVICES = ("ssm", "ec2messages", "ssmmessages", "s3", "kms", "logs", "monitoring")
WIDTH = 80
SUCCESS, SKIPPED, FAILED = "Success", "Skipped", "Failed"


def _dial_error(state: LabState, instance: Instance, service: str) -> str | None:
    """None when netpath reaches `service` on 443; else Go's error for a 1-second dial."""
    found = netpath.path(state, instance.instance_id, service)
    if found.reachable:
        return None
    host = found.resolution.hostname
    if found.resolution.via == "none":
        return f"dial tcp: lookup {host}: i/o timeout"
    address = dns.lookup(state, instance, host, stub=False).addresses
    return f"dial tcp {address[0] if address else dns.stand_in(host)}:443: i/o timeout"


def checks(state: LabState, instance: Instance, agent_version: str | None) -> list[tuple[str, str, str]]:
    """(Check, Status, Note) in the order get-diagnostics prints them."""
    rows: list[tuple[str, str, str]] = []
    identity = instance.imds.http_endpoint != "disabled"
    rows.append(("EC2 IMDS", SUCCESS, f"IMDS is accessible and has instance id {instance.instance_id} in region {state.region}")
                if identity else ("EC2 IMDS", FAILED, "IMDS request timeout"))
    rows.append(("Hybrid instance registration", SKIPPED, "Instance does not have hybrid registration"))
    for service in SERVICES:
        name = f"Connectivity to {service} endpoint"
        host = netpath.hostname(service, state.region)
        if not identity:
            rows.append((name, SKIPPED, "Unable to fetch AWS region details"))
        elif (error := _dial_error(state, instance, service)) is None:
            rows.append((name, SUCCESS, f"{host} is reachable"))
        else:
            rows.append((name, FAILED, f"{host} is not reachable: {error}"))
    rows.append(_credentials(state, instance, identity))
    rows.append(("Agent service", SUCCESS, "Agent service is running and is running as expected user"))
    rows.append(("Proxy configuration", SKIPPED, "No proxy configuration detected"))
    version = agent_version or "unknown"
    latest = identity and netpath.path(state, instance.instance_id, "s3").reachable
    rows.append(("SSM Agent version", SUCCESS, f"SSM Agent version is {version}" + (" which is the latest version" if latest else "")))
    return rows


def _credentials(state: LabState, instance: Instance, identity: bool) -> tuple[str, str, str]:
    name = "AWS Credentials"
    if not identity:
        return name, SKIPPED, "No credentials available"
    check = registration.assess(state, instance.instance_id).credentials
    role = state.instance_role(instance)
    if not check.passed or role is None:
        # aws-sdk-go's ec2rolecreds provider, the agent's fallback on EC2 (as the simulated agent logs it).
        return name, FAILED, "EC2RoleRequestError: no EC2 instance role found"
    if _dial_error(state, instance, "sts") is not None:
        return name, FAILED, "STS call timed out"
    when = state.taken_at or instance.launch_time
    expiry = f"{when + timedelta(hours=6):%Y-%m-%d %H:%M:%S} +0000 UTC" if when else "an unknown time"
    return name, SUCCESS, f"Credentials are for {policy.assumed_role_arn(role.arn, instance.instance_id)} and will expire at {expiry}"


def as_json(rows: list[tuple[str, str, str]]) -> str:
    body = json.dumps({"DiagnosticsOutput": [{"Check": c, "Status": s, "Note": n} for c, s, n in rows]}, indent=2)
    return body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def as_table(rows: list[tuple[str, str, str]]) -> str:
    """diagnosticsutil.TableFormatter, line for line."""
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    spacing = 4 + 3 * 2
    if sum(widths) + spacing > WIDTH:
        widths[2] = WIDTH - spacing - widths[0] - widths[1]
    widths[2] = max(widths[2], max(len(word) for r in rows for word in r[2].split(" ")))

    def split(left: str, right: str, mid: str) -> str:
        return left + mid.join("─" * (w + 2) for w in widths) + right + "\n"

    def text(cells: tuple[str, str, str]) -> str:
        return "".join(f"│ {c.ljust(w)} " for c, w in zip(cells, widths)) + "│\n"

    out = [split("┌", "┐", "┬"), text(("Check", "Status", "Note"))]
    for row in rows:
        out.append(split("├", "┤", "┼"))
        out += [text(r) for r in _wrap(row, widths[2])]
    out.append(split("└", "┘", "┴"))
    return "".join(out)


def _wrap(row: tuple[str, str, str], width: int) -> list[tuple[str, str, str]]:
    """splitRow: the Note broken at spaces to the column's width; later lines leave Check and Status empty."""
    if len(row[2]) <= width:
        return [row]
    note = row[2].replace("\n", " ").replace("\t", " ").replace("  ", " ")
    lines: list[str] = []
    current = ""
    for word in note.split(" "):
        if len(current) + len(word) > width:
            lines.append(current[:-1])
            current = ""
        current += word + " "
    if current:
        lines.append(current[:-1])
    return [(row[0], row[1], lines[0])] + [("", "", line) for line in lines[1:]]


def run(state: LabState, instance: Instance, args: list[str], root: bool, agent_version: str | None) -> tuple[str, int]:
    """`ssm-cli ARGS`: get-diagnostics only (other commands are the agent's, not simulated)."""
    if not args or args[0].lower() != "get-diagnostics":
        return f"{dns.NOTE}only `ssm-cli get-diagnostics [--output table|json]` is simulated\n", 2
    output = "json"
    rest = args[1:]
    if rest:
        if rest[0] != "--output" or len(rest) != 2:
            return f"\nerror: '{rest[0].lstrip('-')}' is not a supported parameter for get-diagnostics\n", 255
        output = rest[1]
        if output not in ("json", "table"):
            return f"\nerror: '{output}' is not a supported output parameter value\n", 255
    if not root:
        return "binary needs to be executed by root\n", 0
    rows = checks(state, instance, agent_version)
    return (as_table(rows) if output == "table" else as_json(rows) + "\n"), 0
