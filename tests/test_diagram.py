"""diagram: pictures from hand-built LabStates; broken hops checked in the Graphviz source.

Renders go to a temporary directory; most use outformat "dot" (the laid-out graph as text),
which is fast and shows the attributes of every edge.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from ssmlab import diagram, doctor
from ssmlab.diagram_scene import scene
from ssmlab.model import Imds, LabState, Vpc
from builders import REGION, endpoints, groups, https, instance, private_lab, public_lab, sg

RED = '"#D13212"'


def rendered(tmp_path, state, findings=(), name="lab") -> str:
    path = diagram.architecture(state, findings, filename=tmp_path / name, outformat="dot")
    assert path == tmp_path / f"{name}.dot" and path.exists()
    return path.read_text()


def edge(source: str, text: str, target: str) -> str:
    """The attributes of the edge source -> target in dot's output ('' when there is none)."""
    found = re.search(rf"\b{re.escape(source)}(?::\w+)? -> {re.escape(target)}(?::\w+)?\s*\[(.*?)\];", text, re.S)
    return found.group(1) if found else ""


def is_broken(attrs: str, code: str) -> bool:
    return f"color={RED}" in attrs and "style=dashed" in attrs and code in attrs


def findings(state, instance_id="i-1"):
    return doctor.diagnose(state, instance_id).findings


# ------------------------------------------------------------------ the three snapshots of the issue


def test_the_complete_lab_renders_a_png_with_the_agents_path(tmp_path):
    state = private_lab()
    png = diagram.architecture(state, findings(state), filename=tmp_path / "complete", title="the complete lab")
    assert png == tmp_path / "complete.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "complete").exists()  # diagrams removes its intermediate source

    text = rendered(tmp_path, state, findings(state))
    for service, call in (("ssm", "UpdateInstanceInformation"), ("ssmmessages", "control + data channels"),
                          ("ec2messages", "GetMessages")):
        attrs = edge("agent", text, f"ep_{service}")
        assert call in attrs and "HTTPS 443" in attrs and RED not in attrs
        assert edge(f"ep_{service}", text, "svc_ssm")
    assert "dir=back" in edge("svc_ssm", text, "user")  # the user reaches Systems Manager, drawn right of it
    assert RED not in text
    for label in ("10.0.0.0/16", "10.0.0.0/24", f"{REGION}a", "private DNS on", "lab-role", "SSM Agent",
                  "in 443 from 10.0.0.0/16", "out 443 to 10.0.0.0/16", "AWS Cloud"):
        assert label in text, label


def test_a_lab_with_nothing_but_a_vpc_draws_only_the_vpc(tmp_path):
    state = LabState(region=REGION, lab="demo", vpcs=(Vpc("vpc-1", "10.0.0.0/16", True, False),))
    text = rendered(tmp_path, state)
    assert "vpc-1" in text and "hostnames OFF" in text and "AWS Systems Manager" in text
    for absent in ("agent", "ep_ssm", "role", "subnet-"):
        assert not re.search(rf"\b{absent}\b", text), absent
    png = diagram.architecture(state, filename=tmp_path / "vpc.png")  # an extension given is not doubled
    assert png == tmp_path / "vpc.png" and png.exists()


def test_a_broken_hop_is_red_dashed_with_the_code_and_the_rest_stays_normal(tmp_path):
    state = groups(private_lab(), sg("sg-endpoints"))  # the endpoint SG has no inbound 443
    text = rendered(tmp_path, state, findings(state))
    for service in ("ssm", "ssmmessages"):  # a current agent does not use ec2messages: its edge is not judged
        assert is_broken(edge("agent", text, f"ep_{service}"), "ENDPOINT_SG_BLOCKS_HTTPS")
        assert RED not in edge(f"ep_{service}", text, "svc_ssm")
    assert RED not in edge("role", text, "agent")


# ------------------------------------------------------------------ each kind of finding on its hop


def _no_core_policy(state):
    return replace(state, roles=(replace(state.roles[0], managed_policies=()),))


@pytest.mark.parametrize("case, state, source, target, code", [
    ("private DNS off", endpoints(private_lab(), replace(endpoints(private_lab()).endpoints[0], private_dns=False)),
     "agent", "ep_ssm", "ENDPOINT_PRIVATE_DNS_DISABLED"),
    ("instance SG without egress", groups(private_lab(), sg("sg-instance")), "agent", "ep_ssmmessages",
     "INSTANCE_SG_BLOCKS_HTTPS"),
    ("role without the SSM permissions", _no_core_policy(private_lab()), "ep_ssm", "svc_ssm",
     "ROLE_MISSING_SSM_PERMISSIONS"),
    ("IMDS off", private_lab(instances=(instance(imds=Imds("disabled", "required")),)), "role", "agent", "IMDS_DISABLED"),
    ("no instance profile", private_lab(instances=(instance(profile_arn=None),)), "role", "agent", "NO_INSTANCE_PROFILE"),
    ("ssmmessages endpoint missing", endpoints(private_lab(), drop=("vpce-ssmmessages",)), "agent", "missing_ssmmessages",
     "ENDPOINT_MISSING"),
])
def test_each_finding_breaks_its_hop(case, state, source, target, code):
    found = findings(state)
    assert code in [f.code for f in found], case
    drawn = scene(state, found)
    assert code in drawn.edge(source, target).broken, case
    others = [e for e in drawn.edges if e.broken and (e.source, e.target) != (source, target)]
    assert all(code in e.broken for e in others), others


def test_a_missing_endpoint_is_drawn_red_dashed_and_findings_may_be_json(tmp_path):
    state = endpoints(private_lab(), drop=("vpce-ssmmessages",))
    report = doctor.diagnose(state, "i-1").to_json()  # what `ssmlab doctor --json` prints
    assert scene(state, [doctor.diagnose(state, "i-1")]).node("missing_ssmmessages")  # what checkup returns
    text = rendered(tmp_path, state, report)
    node = re.search(r"\bmissing_ssmmessages\s*\[(.*?)\];", text, re.S).group(1)
    assert "dashed" in node and RED in node and "ENDPOINT_MISSING" in node
    assert is_broken(edge("agent", text, "missing_ssmmessages"), "ENDPOINT_MISSING")
    assert RED not in edge("agent", text, "ep_ssm")
    assert not re.search(r"\bmissing_", rendered(tmp_path, state, (), name="no-findings"))  # absent, not yet built


def test_a_diagnosis_carries_the_state_it_judged_so_its_picture_needs_no_second_read():
    broken = groups(private_lab(), sg("sg-endpoints"))
    diagnosis = doctor.diagnose(broken, "i-1")
    assert diagnosis.state is broken  # the very snapshot, not a re-read that may have moved on
    assert scene(diagnosis.state, diagnosis.findings) == scene(broken, findings(broken))
    assert diagnosis == replace(diagnosis, state=private_lab())  # a diagnosis compares by its findings
    assert "state" not in diagnosis.to_json()  # the JSON contract is unchanged
    gone = doctor.diagnose(broken, "i-missing")
    assert gone.codes() == ["INSTANCE_NOT_FOUND"] and gone.state is broken


def test_what_does_not_exist_is_left_out_and_gateways_appear_when_present():
    before_endpoints = private_lab(endpoints=(), network_interfaces=(), instances=())
    drawn = scene(before_endpoints)
    assert drawn.node("agent") is None and not any(n.startswith("ep_") for n in _ids(drawn))
    public = scene(public_lab())
    assert public.node("igw") is not None
    assert "ssm" in public.edge("agent", "igw").label and public.edge("igw", "svc_ssm")
    assert not any(n.startswith("ep_") for n in _ids(public))


def _ids(drawn):
    return [n.id for n in drawn.outside] + [n.id for c in drawn.clusters for n in c.all_nodes()]


def test_unmapped_findings_go_in_the_caption_info_ones_nowhere():
    state = groups(private_lab(), sg("sg-endpoints", ingress=[https("10.0.0.0/16")]))
    found = [doctor.Finding("NOT_MANAGED", "error", "i-1", "not managed", "reboot"),
             doctor.Finding("S3_GATEWAY_MISSING", "info", "vpc-1", "no s3", "create it")]
    assert scene(state, found).caption == ["NOT_MANAGED (error)"]


# ------------------------------------------------------------------ the other pictures


def test_connection_paths_draws_both_ways_in(tmp_path):
    text = diagram.connection_paths(filename=tmp_path / "paths", outformat="dot").read_text()
    assert "EC2 Instance Connect" in text and "Session Manager" in text
    assert "SSH 22" in text and "dir=back" in edge("ssm_endpoint", text, "ssm_instance")  # the agent dials out


def _log():
    t0 = "2026-01-01T00:00:{:02d}+00:00"
    entries = [
        ("boot", "info", None, None, 0), ("register", "fail", "ENDPOINT_SG_BLOCKS_HTTPS", "ssm", 20),
        ("register", "fail", "ENDPOINT_SG_BLOCKS_HTTPS", "ssm", 30), ("credentials", "sleep", None, None, 31),
        ("register", "ok", None, "ssm", 50), ("control-channel", "ok", None, "ssmmessages", 50),
    ]
    return {
        "clock": {"now": t0.format(59), "epoch": 1767225659.0, "scale": 10.0},
        "agents": [{"instance_id": "i-1", "registered_at": t0.format(50)}],
        "log": [{"time": t0.format(s), "instance_id": "i-1", "step": step, "outcome": outcome, "reason": "",
                 "code": code, "service": service, "address": None} for step, outcome, code, service, s in entries]
        + [{"time": t0.format(5), "instance_id": "i-2", "step": "boot", "outcome": "info", "reason": "", "code": None,
            "service": None, "address": None}],
    }


def test_the_polling_timeline_has_a_lane_per_service_online_and_the_session(tmp_path):
    out = tmp_path / "timeline.png"
    fig = diagram.polling_timeline(_log(), filename=out, sessions=[{"Target": "i-1", "StartDate": 1767225656.0}])
    assert out.read_bytes()[:4] == b"\x89PNG"
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["agent", "credentials (IMDS)", "ssm", "ssmmessages"]
    texts = [t.get_text() for t in ax.texts]
    assert "Online" in texts and "session" in texts and "ENDPOINT_SG_BLOCKS_HTTPS" in texts
    assert texts.count("ENDPOINT_SG_BLOCKS_HTTPS") == 1  # a run of the same failure is labelled once
    other = diagram.polling_timeline(_log(), instance_id="i-2")
    assert "i-2" in other.axes[0].get_title(loc="left")
    empty = diagram.polling_timeline({"clock": {}, "agents": [], "log": []})
    assert "no agent activity" in empty.axes[0].texts[0].get_text()


# ------------------------------------------------------------------ Graphviz missing; import cost


def test_a_missing_dot_is_one_line_with_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere
    with pytest.raises(diagram.DotMissing) as raised:
        diagram.architecture(private_lab(), filename=tmp_path / "x")
    message = str(raised.value)
    assert "\n" not in message and "apt-get install -y graphviz" in message and "brew install graphviz" in message
    assert "conda install -c conda-forge graphviz" in message
    with pytest.raises(diagram.DotMissing):
        diagram.connection_paths(filename=tmp_path / "y")


def test_importing_the_module_loads_neither_diagrams_nor_matplotlib():
    code = "import sys, ssmlab.diagram, ssmlab.cli; print(any(m.split('.')[0] in ('diagrams', 'matplotlib') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def _hibernation_log():
    """An agent whose start ping failed: hibernation periods and pings, then a reboot and Online, all crowded."""
    start = 1767225600.0
    iso = lambda t: datetime.fromtimestamp(start + t, timezone.utc).isoformat()  # noqa: E731
    entries = [("boot", "info", None, None, 0, None, None)]
    entries += [("register", "fail", "ENDPOINT_MISSING", "ssm", 20, None, None),
                ("hibernate", "sleep", None, None, 20, 320, "hibernating: next ping in 5 min")]
    for n, at in enumerate((320, 920, 1520)):
        if n == 0:
            entries.append(("hibernate", "sleep", None, None, at, at + 1800, "hibernating: a ping every 10 min"))
        entries.append(("ping", "fail", "ENDPOINT_SG_BLOCKS_HTTPS" if n else "ENDPOINT_MISSING", "ssm", at, None, None))
    entries += [("reboot", "info", None, None, 1600, None, None), ("register", "ok", None, "ssm", 1620, None, None),
                ("control-channel", "ok", None, "ssmmessages", 1620, None, None)]
    return {
        "clock": {"epoch": start + 1700},
        "agents": [{"instance_id": "i-1", "registered_at": iso(1620)}],
        "log": [{"time": iso(t), "instance_id": "i-1", "step": step, "outcome": outcome, "reason": "", "code": code,
                 "service": service, "address": None, "until": iso(until) if until else None, "label": label}
                for step, outcome, code, service, t, until, label in entries],
    }


def test_the_timeline_draws_hibernation_periods_and_no_two_labels_overlap():
    fig = diagram.polling_timeline(_hibernation_log())
    ax = fig.axes[0]
    texts = [t for t in ax.texts]
    words = [t.get_text() for t in texts]
    assert "hibernating: next ping in 5 min" in words and "hibernating: a ping every 10 min" in words
    assert "reboot" in words and "Online" in words
    bars = [p for p in ax.patches if p.get_width() > 0]
    assert len(bars) == 2 and abs(bars[0].get_x() + bars[0].get_width() - bars[1].get_x()) < 0.01  # one ends, the next begins
    assert abs(bars[1].get_x() + bars[1].get_width() - 1600 / 60) < 0.01  # the reboot ends the hibernation
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in texts]
    overlapping = [(words[i], words[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
                   if boxes[i].overlaps(boxes[j])]
    assert overlapping == []


def test_a_host_reached_through_the_instance_is_drawn_with_its_port_and_red_until_egress_allows_it():
    """steps.private_host's database: drawn in its subnet, with the port its group admits from the instance's group;
    the edge is the agent's dial for a port session to it (hostpath), broken while the instance may not send."""
    database = instance(instance_id="i-db", ip="10.0.0.9", groups=("sg-db",), profile_arn=None,
                        tags=(("Name", "demo-database"),))
    admits = sg("sg-db", ingress=[https(group="sg-instance", ports=(5432, 5432))])
    state = private_lab(instances=(instance(), database),
                        security_groups=(*private_lab().security_groups, admits))
    drawn = scene(state, instance_id="i-1")
    assert drawn.node("host_i-db").label == "i-db\ndemo-database · 10.0.0.9"
    blocked = drawn.edge("agent", "host_i-db")
    assert blocked.label == "tcp 5432\nport forwarding" and blocked.broken == ("INSTANCE_SG_BLOCKS_PORT",)
    opened = groups(state, sg("sg-instance", egress=[https("10.0.0.0/16"), https(group="sg-db", ports=(5432, 5432))]))
    assert scene(opened, instance_id="i-1").edge("agent", "host_i-db").broken == ()
    assert scene(private_lab(), instance_id="i-1").node("host_i-db") is None  # nothing admits from the instance
