"""Session logging, from the instance's side: can the agent write a session's transcript where the preferences say? Pure.

With `cloudWatchLogGroupName` or `s3BucketName` in the Session Manager preferences, the agent
streams the transcript to CloudWatch Logs (logs:CreateLogStream, logs:PutLogEvents on a stream
named after the session) or uploads it to S3 (s3:PutObject on `<prefix><session id>.log`), as
the instance role, through the logs endpoint or the S3 gateway (User Guide, "Logging session
data"). When it cannot, the session fails to start. One rule for the doctor (a finding per
destination) and for the emulator (the session's failure).
"""

from __future__ import annotations

from dataclasses import dataclass

from ssmlab import netpath, policy
from ssmlab.model import LabState

ANY_SESSION = "*"  # the doctor asks for sessions to come: a policy scoped to the log group or bucket allows them all
DESTINATIONS = (  # (service, preferences key, label, the agent's actions)
    ("logs", "cloudWatchLogGroupName", "CloudWatch Logs", ("logs:CreateLogStream", "logs:PutLogEvents")),
    ("s3", "s3BucketName", "S3", ("s3:PutObject",)),
)


@dataclass(frozen=True)
class LoggingProblem:
    service: str  # logs | s3
    label: str
    target: str  # the log group or bucket
    reachable: bool = True  # False: the agent has no path to the service
    hop: object | None = None  # the hop that stops the path (netpath.Hop), when one does
    role: str | None = None  # the instance role, when it lacks permissions
    missing: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()  # what the missing actions must be allowed on


def resource(service: str, target: str, region: str, role_arn: str, session_id: str, prefix: str = "") -> str:
    """The ARN the agent writes a session's transcript to, in the role's partition and account."""
    parts = role_arn.split(":")
    partition, account = (parts[1], parts[4]) if len(parts) > 4 else ("aws", "")
    if service == "logs":
        return f"arn:{partition}:logs:{region}:{account}:log-group:{target}:log-stream:{session_id}"
    return f"arn:{partition}:s3:::{target}/{prefix}{session_id}" + ("" if session_id == ANY_SESSION else ".log")


def problems(state: LabState, instance_id: str, preferences: dict | None,
             session_id: str = ANY_SESSION) -> list[LoggingProblem]:
    """Why the agent on `instance_id` could not write the transcript, per configured destination."""
    instance = state.instance(instance_id)
    if not preferences or instance is None:
        return []
    role = state.instance_role(instance)
    found = []
    for service, key, label, actions in DESTINATIONS:
        target = preferences.get(key)
        if not target:
            continue
        path = netpath.path(state, instance_id, service)
        if not path.reachable:
            found.append(LoggingProblem(service, label, target, reachable=False, hop=path.first_failure))
            continue
        if role is None:
            continue  # no profile: NO_INSTANCE_PROFILE says it, and no session starts anyway
        arn = resource(service, target, state.region, role.arn, session_id, preferences.get("s3KeyPrefix") or "")
        missing = policy.missing_actions(policy.role_policies(role), actions, arn)
        if missing:
            scope = (arn.rsplit(":log-stream:", 1)[0] + ":*") if service == "logs" else arn.rsplit("/", 1)[0] + "/*"
            found.append(LoggingProblem(service, label, target, role=role.name, missing=missing, resources=(scope,)))
    return found


def session_failure(state: LabState, instance_id: str, preferences: dict | None, session_id: str) -> str | None:
    """The reason a session fails to start because of its logging, as the emulator records it; None: it can log."""
    for problem in problems(state, instance_id, preferences, session_id):
        if not problem.reachable:
            return (f"session logging to {problem.label} is configured but the agent cannot reach {problem.service}: "
                    f"{problem.hop.detail if problem.hop else 'no path'}")
        return f"session logging to {problem.label} is configured but the instance role lacks {', '.join(problem.missing)}"
    return None
