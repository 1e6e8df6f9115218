"""Render the reference pictures from labs built on the embedded emulator (`make diagrams`).

Diagrams as code: every PNG here is drawn by `ssmlab.diagram` from a lab that really exists
(on a private emulator started for this run, in a temporary state directory, so a running
emulator and its labs are left alone), never by hand:

  complete_lab.png      the lab ssmlab builds, doctor-clean, the agent Online
  broken_lab.png        the same lab with the endpoint security group's 443 ingress revoked
                        (the widely copied Terraform sample's mistake), its hops in red
  polling_timeline.png  that broken lab's agent: its start ping fails, it hibernates, the repair is
                        seen at its 15-minute hibernation ping, Online, a session
  connection_paths.png  EC2 Instance Connect Endpoint's path beside Session Manager's

Both labs are removed at the end and the emulator stopped. Run: .venv/bin/python diagrams/render.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REGION = "ap-northeast-1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the PNGs (default: diagrams/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="ssmlab-diagrams-") as state_dir:
        for key in [k for k in os.environ if k.startswith(("AWS_", "SSMLAB_"))]:
            del os.environ[key]  # our own emulator, and never a real account
        os.environ["SSMLAB_STATE_DIR"] = state_dir
        from ssmlab.emulator import process

        process.start()
        try:
            render_all(args.out)
        finally:
            process.stop()
    return 0


def render_all(out: Path) -> None:
    from ssmlab import diagram

    say(f"connection paths -> {diagram.connection_paths(filename=out / 'connection_paths')}")
    complete_lab(out)
    broken_lab(out)


def complete_lab(out: Path) -> None:
    from ssmlab import checkup, diagram, inventory, teardown
    from ssmlab.build import build
    from ssmlab.emulator import control
    from ssmlab.emulator.agent import AGENT_START_DELAY
    from ssmlab.lab import Lab

    lab = Lab("reference", REGION, "emulator")
    try:
        instance_id = build(lab).results["instance"].instance_id
        control.advance_clock(lab, AGENT_START_DELAY + 5)
        findings = [f for d in checkup.checkup(lab, instance_id) for f in d.findings]
        state = inventory.snapshot(lab)
        say(f"complete lab ({', '.join(f.code for f in findings) or 'no finding'}) -> "
            f"{diagram.architecture(state, findings, filename=out / 'complete_lab', title=title(lab, 'the complete lab'))}")
    finally:
        remove(lab, teardown)


def broken_lab(out: Path) -> None:
    """Endpoint SG without ingress before the agent starts; diagnose; repair; Online; a session."""
    from ssmlab import checkup, diagram, inventory, managed, teardown
    from ssmlab.build import build
    from ssmlab.emulator import control
    from ssmlab.lab import Lab
    from ssmlab.steps import instance

    lab = Lab("broken", REGION, "emulator")
    try:
        r = build(lab, until="iam").results
        lab.client("ec2").revoke_security_group_ingress(
            GroupId=r["security-groups"].endpoint_sg_id,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                            "IpRanges": [{"CidrIp": r["network"].cidr}]}],
        )
        instance_id = instance.ensure(lab, r["network"], r["security-groups"], r["iam"]).instance_id
        control.advance_clock(lab, 8 * 60)  # the agent's start ping and its 5-minute ping fail: it hibernates
        findings = [f for d in checkup.checkup(lab, instance_id) for f in d.findings]
        state = inventory.snapshot(lab)
        say(f"broken lab ({', '.join(f.code for f in findings)}) -> "
            f"{diagram.architecture(state, findings, filename=out / 'broken_lab', title=title(lab, 'endpoint security group without ingress'))}")

        build(lab)  # converges: puts the 443 ingress back
        control.advance_clock(lab, 8 * 60)  # its 15-minute hibernation ping gets through (ssmlab.hibernation)
        node = managed.wait_until_managed(lab, instance_id, timeout=60)
        control.advance_clock(lab, 60)
        session = managed.start_session(lab, instance_id)
        control.advance_clock(lab, 120)
        managed.end_session(lab, session.session_id)
        sessions = lab.client("ssm").describe_sessions(State="History")["Sessions"]
        log = control.agents(lab, instance_id)
        figure = diagram.polling_timeline(
            log, instance_id=instance_id, sessions=sessions, filename=out / "polling_timeline.png",
            title=f"{instance_id}: endpoint SG without 443 ingress, repaired after 8 minutes ({node.ping_status})",
        )
        say(f"polling timeline ({len(log['log'])} agent log entries) -> {out / 'polling_timeline.png'}")
        del figure
    finally:
        remove(lab, teardown)


def title(lab, what: str) -> str:
    return f"lab {lab.name} ({what}) in {lab.region}: what exists, and the SSM Agent's path"


def remove(lab, teardown) -> None:
    done = teardown.remove(lab)
    say(f"removed lab {lab.name}: {len(done.outcomes)} deletion(s), {len(done.left)} left")


def say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
