"""The simulated agent's session logger: a session's transcript, written where the preferences say when it ends.

The real agent's shell plugin copies everything it sends the client to a local file (aws/amazon-ssm-agent
`agent/session/shell/shell.go`, processStdoutData writes the ipcTempFile); with `cloudWatchStreamingEnabled`
it streams that file to the log group, to a stream named after the session, as JSON events every second
(startStreamingLogs; `cloudwatchlogsservice.go`, StreamData); at the end (finishLogging) it uploads the file to
S3 as `<s3KeyPrefix>/<session id>.log` and, when streaming is off, to the log group as plain events. Here the
data channel (`shell_channel.py`) keeps that file in `Session.terminal`, and `write` sends it when the session
ends — the shell exited, the channel closed, its path broke, or TerminateSession — in the shapes of
`ssmlab.transcript`. A destination the agent can no longer reach or write to at the end (the same rule that
let the session start, `transcript.problems`) gets nothing, and the agent's log says so, as the real one logs
"Failed to upload shell session logs to S3" (shell.go) or "Error Creating Log Stream for CloudWatchLogs output"
(StreamData).

The simulation's choices: streamed events are written at the end, all at once, not every second (a learner
reads them after the session); the S3 object and the plain events are the terminal's text without the
`script` command's "Script started/done" lines that wrap the real file (generateLogData, shell_unix.go);
events carry the wall clock's timestamp (CloudWatch Logs refuses events from the future, and the simulated
clock runs ahead) and the simulated time in `eventTime`. A session started through the API whose data
channel was never opened ran no shell: its record is one clearly marked emulator line, no transcript.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from ssmlab import transcript
from ssmlab.emulator.clock import iso

log = logging.getLogger("ssmlab.emulator.session_log")
SESSION_WORKER = "[ssm-session-worker]"


def preferences(session: Any) -> dict:
    """The session's logging preferences, as they were when it started."""
    return {"cloudWatchLogGroupName": session.log_group, "s3BucketName": session.bucket,
            "s3KeyPrefix": session.s3_prefix, "cloudWatchStreamingEnabled": session.streaming}


def no_shell_line(session: Any, now: float) -> str:
    """The record of a session whose data channel was never opened: the emulator's own line, marked as such."""
    return (f"ssmlab emulator: simulated session {session.session_id} on {session.target} by {session.owner}, "
            f"started through the API at {iso(session.started_at)} and ended at {iso(now)}; no data channel "
            f"was opened, so no shell ran and there is no transcript.\n")


def write(session: Any, aws: Callable[[str, str], Any], fleet: Any, now: float) -> None:
    """Write the ended session's transcript (or the no-shell line) to each destination the agent can reach."""
    if not (session.log_group or session.bucket):
        return
    terminal = "".join(session.terminal) if session.terminal is not None else no_shell_line(session, now)
    state = fleet.state_for(session.target)
    broken = {p.service: p for p in (transcript.problems(state, session.target, preferences(session),
                                                         session.session_id) if state is not None else [])}
    for service, send in (("logs", _to_cloudwatch), ("s3", _to_s3)):
        if not (session.log_group if service == "logs" else session.bucket):
            continue
        problem = broken.get(service)
        reason = _why(problem) if problem else None
        if reason is None:
            try:
                send(session, aws, terminal, now)
                continue
            except Exception as error:  # the bucket or log group deleted meanwhile, throttling
                reason = str(error)
        _agent_error(fleet, session, now, service, reason)


def _to_cloudwatch(session: Any, aws: Callable[[str, str], Any], terminal: str, now: float) -> None:
    from ssmlab.aws import get_or_none

    if session.terminal is None:
        messages = [terminal.rstrip("\n")]
    elif session.streaming:
        header = {"awsRegion": session.region, "target": {"id": session.target},
                  "userIdentity": {"arn": session.owner}, "runAsUser": transcript.RUN_AS_USER,
                  "sessionId": session.session_id}
        messages = transcript.streamed_events(terminal, header, iso(now))
    else:
        messages = transcript.uploaded_events(terminal)
    if not messages:
        return  # nothing was printed: StreamData finds no line and creates no stream
    logs = aws("logs", session.region)
    get_or_none(logs.create_log_stream, missing=("ResourceAlreadyExistsException",),
                logGroupName=session.log_group, logStreamName=session.session_id)
    stamp = int(time.time() * 1000)
    for start in range(0, len(messages), transcript.EVENTS_PER_CALL):
        batch = messages[start:start + transcript.EVENTS_PER_CALL]
        logs.put_log_events(logGroupName=session.log_group, logStreamName=session.session_id,
                            logEvents=[{"timestamp": stamp, "message": m} for m in batch])


def _to_s3(session: Any, aws: Callable[[str, str], Any], terminal: str, now: float) -> None:
    aws("s3", session.region).put_object(Bucket=session.bucket, Key=transcript.s3_key(session.s3_prefix, session.session_id),
                                         Body=terminal.encode())


def _why(problem: transcript.LoggingProblem) -> str:
    if not problem.reachable:
        return f"cannot reach {problem.service}: {problem.hop.detail if problem.hop else 'no path'}"
    return f"the instance role {problem.role} lacks {', '.join(problem.missing)}"


def _agent_error(fleet: Any, session: Any, now: float, service: str, reason: str) -> None:
    """The agent's own error line (its words; the cause after them is the simulation's)."""
    words = ("Error Creating Log Stream for CloudWatchLogs output" if service == "logs"
             else "Failed to upload shell session logs to S3")
    log.info("session %s: transcript not written to %s: %s", session.session_id, service, reason)
    agent = fleet.agents.get(session.target)
    if agent is not None:
        agent.files.main(now, "ERROR", SESSION_WORKER, f"[{session.session_id}]", f"{words}: {reason}")
