"""Whether the node is managed, and when every check passes but it is not, what its agent is doing. Pure.

The doctor's last word on an instance: booting (its EC2 status checks still initializing:
wait), hibernating or asleep after a failed start (when its next ping comes, from
`ssmlab.hibernation`: wait, or reboot to try now), or between two health reports after a
repair (its next report brings it back). Times are the snapshot's (the service's clock,
`inventory.snapshot`) against the instance's launch time and the node's last ping.
"""

from __future__ import annotations

import shlex
from datetime import datetime

from ssmlab import fixes, hibernation
from ssmlab.encryption import Problem
from ssmlab.findings import Fix, advice
from ssmlab.model import Instance, LabState, NodeFacts


def check(state: LabState, instance: Instance, node: NodeFacts | None, blocked: bool) -> list[Problem]:
    """`blocked`: another finding is an error, which is then the cause (nothing here guesses)."""
    if node is None:
        return []
    iid = instance.instance_id
    if node.ping_status is None and not blocked and node.status_check == "initializing":
        return [Problem(
            "AGENT_STARTING", iid,
            f"{iid} is still booting (its EC2 status checks read initializing): the SSM Agent starts as the "
            "operating system comes up, then registers within seconds; every check the doctor can make passes",
            advice(f"wait, then ask again: ssmlab doctor {f'--lab {state.lab}' if state.lab else f'--instance-id {iid}'} "
                   f"--region {state.region}"),
        )]
    if node.ping_status is None:
        out = [Problem("NOT_MANAGED", iid, f"Systems Manager does not list {iid} as a managed node",
                       advice("fix the errors above") if blocked else Fix((fixes.reboot(iid),)))]
        if not blocked:
            out.append(Problem(
                "REBOOT_RECOMMENDED", iid,
                "every check passes, yet the node is not managed: an agent that could not reach Systems Manager when "
                f"it started hibernates, and {hibernation.next_attempt(instance.launch_time, state.taken_at)}; "
                "if the instance profile came after the start, the agent's credential refresher sleeps for tens of "
                "minutes first",
                Fix((fixes.reboot(iid),), "reboot to try now: {0} (or on the instance: sudo systemctl restart "
                    "amazon-ssm-agent)"),
            ))
        return out
    if node.ping_status == "ConnectionLost":
        if blocked:
            return [Problem("CONNECTION_LOST", iid, f"{iid} stopped pinging Systems Manager (PingStatus "
                            "ConnectionLost)", advice("fix the errors above"))]
        every = hibernation.HEALTH_FREQUENCY // 60
        return [Problem(
            "CONNECTION_LOST", iid,
            f"{iid} stopped pinging Systems Manager (PingStatus ConnectionLost), yet every check passes now: a running "
            f"agent reports its health every {every} minutes, so its next report should bring it back"
            f"{_since(node.last_ping, state.taken_at)}",
            advice(f"wait up to {every} minutes and ask again; if it stays ConnectionLost, reboot: "
                   f"{shlex.join(fixes.reboot(iid))}"))]  # advice: the reboot is for later, not for --fix now
    return []


def _since(last_ping: datetime | None, now: datetime | None) -> str:
    """' (its last report was 7 minutes ago)', when both times are known."""
    if last_ping is None or now is None:
        return ""
    return f" (its last report was {hibernation.ago(hibernation.seconds_between(last_ping, now))})"
