"""Session logging, from the instance's side: can the agent write a session's transcript where the preferences say? Pure.

With `cloudWatchLogGroupName` or `s3BucketName` in the Session Manager preferences, the agent
streams the transcript to CloudWatch Logs (logs:CreateLogStream, logs:PutLogEvents on a stream
named after the session) or uploads it to S3 (s3:PutObject on `<prefix><session id>.log`), as
the instance role, through the logs endpoint or the S3 gateway (User Guide, "Logging session
data"). When it cannot, the session fails to start. One rule for the doctor (a finding per
destination) and for the emulator (the session's failure).

Below that rule, what the agent writes: the shell plugin copies everything it sends the client — the
terminal's output, the echo of what was typed included — to a local file (shell.go, processStdoutData), then
streams it to CloudWatch Logs as JSON events (`streamed_events`) or uploads it at the end (`uploaded_events`,
and the S3 object `s3_key`). `ssmlab.emulator.session_log` writes them on the emulator.
"""

from __future__ import annotations

import json
import posixpath
import re
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
    key = f"{prefix}{ANY_SESSION}" if session_id == ANY_SESSION else s3_key(prefix, session_id)
    return f"arn:{partition}:s3:::{target}/{key}"


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


# -- what the agent writes (aws/amazon-ssm-agent, agent/session/shell/shell.go and
# agent/agentlogstocloudwatch/cloudwatchlogspublisher/cloudwatchlogsservice.go) ----------------------------------

STREAM_EVENT_BYTES = 33_000  # StreamMessageLengthThresholdInBytes: one streamed (JSON) event's lines
UPLOAD_EVENT_BYTES = 200_000  # MessageLengthThresholdInBytes: one event of a transcript uploaded at the end
EVENTS_PER_CALL = 4  # maxNumberOfEventsPerCall: events in one PutLogEvents
RUN_AS_USER = "ssm-user"  # who a session's shell runs as, without Run As support turned on (User Guide)
# ANSI escape sequences as pborman/ansi Decode reads them: CSI, the control strings (OSC, DCS, SOS, PM, APC) up
# to their terminator, two-character escapes, and the C1 codes; C0 characters such as \b are kept (its TODO).
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]P^_X].*?(?:\x07|\x1b\\)|\x1b[ -/]*[0-~]|[\x80-\x9f]", re.S)
_GO_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def s3_key(prefix: str, session_id: str) -> str:
    """`<s3KeyPrefix>/<session id>.log`, joined as Go's path.Join does (fileutil.BuildS3Path in finishLogging)."""
    return posixpath.normpath("/".join(p for p in (prefix, f"{session_id}.log") if p))


def strip_ansi(text: str) -> str:
    """A streamed line without its escape sequences (processMessage: ansi.Strip; on Linux
    isCleanupOfControlCharactersRequired is true, since the log is the shell's raw stdout, shell_unix.go)."""
    return _ANSI.sub("", text)


def _lines(text: str) -> list[str]:
    """Lines as bufio's ReadSlice('\\n') reads them: split at \\n only, each with its newline."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _events(lines: list[str], limit: int) -> list[str]:
    """Lines (each with its newline) gathered into events of at most `limit` bytes, as getNextMessage does."""
    events, message = [], ""
    for line in lines:
        if message and len((message + line).encode()) > limit:
            events.append(message)
            message = ""
        message += line
    return events + [message] if message else events


def streamed_events(terminal: str, header: dict, event_time: str) -> list[str]:
    """`cloudWatchStreamingEnabled`: the transcript as structured JSON events (SetCloudWatchMessage, then
    buildEventInfo with structuredLogs): escape sequences stripped, tabs as spaces, carriage returns dropped,
    one `sessionData` entry per line; `header` holds awsRegion, target, userIdentity, runAsUser, sessionId."""
    found = []
    for chunk in _events([strip_ansi(line) for line in _lines(terminal)], STREAM_EVENT_BYTES):
        data = chunk.replace("\t", " ").replace("\r", "").split("\n")
        message = {"eventVersion": "1.0", "eventTime": event_time, **header,
                   "sessionData": data[:-1] if data[-1] == "" else data}
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))  # Go's json.Marshal, HTML-safe:
        found.append(re.sub("[<>&\u2028\u2029]", lambda m: _GO_HTML[m.group()], text))
    return found


def uploaded_events(terminal: str) -> list[str]:
    """Streaming off: the finished transcript uploaded as plain events (StreamData with isFileComplete, no
    cleanup): \\r\\n as \\n, the last newline dropped; control characters kept, as in the S3 object."""
    events = _events(_lines(terminal), UPLOAD_EVENT_BYTES)
    plain = [e.replace("\r\n", "\n") for e in events]
    if plain and plain[-1].endswith("\n"):
        plain[-1] = plain[-1][:-1]
    return [e for e in plain if e]
