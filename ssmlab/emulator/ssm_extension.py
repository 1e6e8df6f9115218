"""Plug the simulated agents into the emulator: their fleet, the SSM actions, /ssmlab/agents and /ssmlab/clock.

Called once by `server.serve` with the app and the clock. The agents read the emulator's
state back over HTTP, so they need the emulator's own URL (in SSMLAB_EMULATOR_URL) before
the fleet starts.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Callable

from ssmlab.emulator import boot, instance_connect, moto_state, simtime
from ssmlab.emulator.app import is_read
from ssmlab.emulator.clock import SimClock
from ssmlab.emulator.fleet import Fleet
from ssmlab.emulator.responders import Responders
from ssmlab.emulator.ssm_api import SessionManagerApi
from ssmlab.emulator.wsgi import mark_internal, read_json, send_json


def install(app: Any, clock: SimClock) -> Fleet:
    """Register everything on `app`; returns the fleet (the caller starts and stops its thread)."""
    from ssmlab import inventory, registration
    from ssmlab.emulator.hooks import after
    from ssmlab.emulator.rendering import json_response
    from ssmlab.lab import TAG_KEY

    client = internal_client
    # (region, VPC or instance) -> (what must stay equal, the state read back)
    snapshots: dict[tuple[str, str], tuple[tuple[int, ...], Any]] = {}

    def snapshot(agent: Any) -> Any:
        """The agent's VPC read back over HTTP, reused until a request of its lab (or of no lab)
        may have changed something (app.generation_of). The VPC's agents share one read-back."""
        key = (agent.region, agent.vpc_id or agent.instance_id)
        valid = app.generation_of(agent.tags.get(TAG_KEY))
        kept = snapshots.get(key)
        if kept is not None and kept[0] == valid and any(i.instance_id == agent.instance_id for i in kept[1].instances):
            return kept[1]
        for service in ("ec2", "iam"):
            client(service, agent.region)  # marked before inventory uses them
        state = inventory.snapshot(_internal_lab(agent.region), instance_id=agent.instance_id)
        fleet.work["read_backs"] += 1
        snapshots[key] = (valid, state)
        return state

    app.may_change = may_change_read_back
    fleet = Fleet(clock, snapshot, registration.assess, moto_state.instances, changes=lambda: app.generation)
    app.on_change.append(fleet.wake)
    api = SessionManagerApi(fleet, client)
    app.session_manager = api.backend  # server.py serves its sessions' data channels
    app.responders = Responders(fleet, instance_connect.install(app, clock))  # SendSSHPublicKey's keys: sshd

    def handler(action: Callable[[str, str, dict], dict]) -> Callable[[Any], Any]:
        def handle(request: Any) -> Any:
            answer = action(request.region, request.account_id, request.params)
            if "StreamUrl" in answer:  # StartSession, ResumeSession: reached as the caller reached the emulator
                answer["StreamUrl"] = api.backend.reachable(answer["StreamUrl"], request.headers.get("host"))
            return json_response(answer)

        return handle

    for name, action in api.actions.items():
        app.router.register("ssm", name, handler(action))

    app.routes[("GET", "/ssmlab/agents")] = lambda environ, start: send_json(
        start, fleet.to_json(_query(environ).get("instance_id"))
    )
    app.routes[("GET", "/ssmlab/clock")] = lambda environ, start: send_json(start, clock.to_json())
    app.routes[("POST", "/ssmlab/clock")] = lambda environ, start: _advance(environ, start, fleet)
    app.routes[("PUT", "/ssmlab/responders")] = lambda environ, start: _respond_with(environ, start, app.responders)

    # moto keeps a rebooted instance running without a trace; the agent must restart.
    after(app, "ec2", "RebootInstances", lambda request: fleet.reboot(request.query_list("InstanceId")))
    boot.install(fleet)  # status checks read `initializing` while an agent boots
    simtime.install(app, clock)  # launch times and Date headers on the simulated clock
    return fleet


# What a read-back reads (inventory.snapshot: the network and instances, IAM, the session preferences
# document) and the fleet's instances come from these services only.
READ_BACK_SERVICES = frozenset({"ec2", "iam", "ssm"})
# Answered by ssm_api: they start or end sessions and commands, which no read-back reads.
SESSION_ACTIONS = frozenset({"StartSession", "ResumeSession", "TerminateSession", "SendCommand", "CancelCommand"})


def may_change_read_back(request: Any) -> bool:
    """Whether a request may change what the agents read back: a change to a service they read, other
    than a session or a command. A session's transcript going to CloudWatch Logs or S3 leaves every
    read-back valid; an unparsed request counts as a change."""
    if request is None:
        return True
    return not is_read(request) and request.service in READ_BACK_SERVICES and request.action not in SESSION_ACTIONS


_LABS: dict[str, Any] = {}


def _internal_lab(region: str) -> Any:
    """The emulator's own view of itself (the simulated agents, the start-up warm-up)."""
    from ssmlab.lab import Lab

    if region not in _LABS:
        _LABS[region] = Lab("emulator-agent", region, "emulator")
    return _LABS[region]


def internal_client(service: str, region: str) -> Any:
    """A client whose requests are marked internal: left out of the call log and of fault injection."""
    made = _internal_lab(region).client(service)
    made.meta.events.register("before-sign", mark_internal, unique_id="ssmlab-internal")
    return made


def _query(environ: dict) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}


def _advance(environ: dict, start_response: Callable, fleet: Fleet) -> list[bytes]:
    try:
        seconds = float(read_json(environ)["advance"])  # an empty body (None) is a TypeError
        if not 0 <= seconds <= 7 * 24 * 3600:
            raise ValueError
    except (KeyError, ValueError, TypeError):
        return send_json(
            start_response,
            {"ok": False, "error": 'expected {"advance": SECONDS} with 0 <= SECONDS <= 604800 (one week)'},
            "400 Bad Request",
        )
    fleet.advance(seconds)
    return send_json(start_response, fleet.clock.to_json())


def _respond_with(environ: dict, start_response: Callable, responders: Responders) -> list[bytes]:
    """Test-only: {"instance_id": ID, "responder": "echo" | null} — who answers that instance's shell lines."""
    body = read_json(environ) or {}
    try:
        responders.override(str(body["instance_id"]), body.get("responder"))
    except (KeyError, ValueError) as error:
        return send_json(start_response, {"ok": False, "error": str(error)}, "400 Bad Request")
    return send_json(start_response, {"ok": True})
