"""Port sessions, as both ends agree on them: the documents, their parameters, the handshake's SessionType
properties, which forwarding the agent picks, and its words when the port does not answer. Pure.

Sources:
- aws/session-manager-plugin `src/sessionmanagerplugin/session/portsession/portsession.go` (PortParameters:
  portNumber, localPortNumber, type; Type "LocalPortForwarding" means a local listener, anything else — the SSH
  document — stdin/stdout), `basicportforwarding.go` (one local connection at a time; DisconnectToPort when it
  closes, then accept the next; TerminateSession on Ctrl-C), `muxportforwarding.go` (several connections over
  smux, chosen when the agent is newer than config.TCPMultiplexingSupportedAfterThisAgentVersion);
  `src/config/config.go` (StreamDataPayloadSize 1024, PortPluginName "Port"); RELEASENOTES.md (1.2.7.0 is
  the release after 1.1.61.0: "(Port forwarding sessions only) Reduced latency and improved overall
  performance" — the multiplexing one).
- aws/amazon-ssm-agent `agent/session/plugins/port/port.go` (RequireHandshake true; PortParameters host,
  portNumber, type; GetSession picks mux for LocalPortForwarding when the client's version is >= 1.1.70,
  basic otherwise; validateParameters "Port number is empty in session properties."; DialCall dials
  localhost:<port> without a host), `port_basic.go` (InitializeSession's "Unable to connect to specified port:
  <dial error>"; DisconnectToPort closes the server connection, the next Output dials again; a server that
  closes is redialled on the client's next Output), `agent/session/datachannel/datachannel.go` (the 15 s
  handshake timeout and its message), `agent/session/plugins/sessionplugin/sessionplugin.go` (SessionType is
  the plugin's name, Properties the session's properties; a failed handshake is "Encountered error while
  initiating handshake. <error>").
The documents' property blocks themselves are AWS's documents, not in either repository: the properties here
are what the two PortParameters structs read from them (the simulation's reading).
"""

from __future__ import annotations

from ssmlab.errors import BadInput

PORT_FORWARDING = "AWS-StartPortForwardingSession"
TO_REMOTE_HOST = "AWS-StartPortForwardingSessionToRemoteHost"
SSH = "AWS-StartSSHSession"
DOCUMENTS = (PORT_FORWARDING, TO_REMOTE_HOST, SSH)
SESSION_TYPE = "Port"  # appconfig.PluginNamePort / the plugin's config.PortPluginName
LOCAL_PORT_FORWARDING = "LocalPortForwarding"  # mgsConfig.LocalPortForwarding
PAYLOAD_SIZE = 1024  # StreamDataPayloadSize, both ends: the most bytes one stream message carries
MUX_CLIENT_VERSION = "1.1.70"  # port.go muxSupportedClientVersion
# The last plugin release before multiplexing (RELEASENOTES.md): what a basic client reports, so that an agent
# chooses basic forwarding for it (port.go GetSession).
BASIC_CLIENT_VERSION = "1.1.61.0"
HANDSHAKE_TIMEOUT = 15.0  # datachannel.go handshakeTimeout
HANDSHAKE_TIMED_OUT = ("Handshake timed out. Please ensure that you have the latest version of the session "
                       "manager plugin.")
HANDSHAKE_FAILED = "Encountered error while initiating handshake. "  # sessionplugin.go, before the error


def check_port(value: object, what: str = "port", allow_zero: bool = False) -> int:
    """A TCP port number (the documents' allowedPattern: 1-65535; a local port may be 0, "any free port")."""
    low = 0 if allow_zero else 1
    try:
        number = int(str(value))
    except ValueError:
        number = -1
    if not low <= number <= 65535 or str(value).strip() != str(number):
        raise BadInput(f"invalid {what} {value!r}: expected a whole number from {low} to 65535")
    return number


def start_parameters(port: int, local_port: int = 0, host: str | None = None) -> tuple[str, dict[str, list[str]]]:
    """StartSession's DocumentName and Parameters (lists of strings, as `aws ssm start-session --parameters`)."""
    parameters = {"portNumber": [str(check_port(port))],
                  "localPortNumber": [str(check_port(local_port, "local port", allow_zero=True))]}
    if host is None:
        return PORT_FORWARDING, parameters
    if not host.strip() or any(c.isspace() for c in host):
        raise BadInput(f"invalid host {host!r}: expected a host name or an IP address")
    return TO_REMOTE_HOST, {"host": [host], **parameters}


def properties(document: str, parameters: dict) -> dict:
    """The session's properties as the agent hands them to the port plugin and puts in the HandshakeRequest's
    SessionType action: the parameters' first values, and the type (LocalPortForwarding for the two forwarding
    documents; none for the SSH document, which the plugin serves on stdin/stdout)."""
    def first(name: str, default: str = "") -> str:
        value = parameters.get(name, default)
        return str(value[0] if isinstance(value, (list, tuple)) and value else value or default)

    if document == SSH:
        return {"portNumber": first("portNumber", "22")}
    found = {"portNumber": first("portNumber"), "localPortNumber": first("localPortNumber", "0"),
             "type": LOCAL_PORT_FORWARDING}
    if document == TO_REMOTE_HOST:
        found = {"host": first("host"), **found}
    return found


def parameters_problem(props: dict) -> str | None:
    """port.go validateParameters: a port session without a port number fails before it dials."""
    if not props.get("portNumber"):
        return f"Port number is empty in session properties. {props}"
    return None


def version_compare(left: str, right: str) -> int:
    """versionutil.Compare: numeric, part by part, missing parts as 0; -1, 0 or 1."""
    def parts(text: str) -> list[int]:
        return [int(p) if p.isdigit() else 0 for p in text.split(".")]
    a, b = parts(left), parts(right)
    width = max(len(a), len(b))
    a, b = a + [0] * (width - len(a)), b + [0] * (width - len(b))
    return (a > b) - (a < b)


def multiplexed(props: dict, client_version: str) -> bool:
    """Whether the agent serves this session with smux (port.go GetSession) rather than one connection."""
    return props.get("type") == LOCAL_PORT_FORWARDING and version_compare(client_version, MUX_CLIENT_VERSION) >= 0


def dial_address(port: int | str, host: str | None = None) -> str:
    """DialCall's destination: localhost:<port> on the instance, or the host's address."""
    return f"{host or '127.0.0.1'}:{port}"


def connection_refused(port: int | str, host: str | None = None) -> str:
    """InitializeSession's error when nothing listens: Go's dial error for a refused TCP connection (localhost
    resolves to 127.0.0.1 on the instance, the simulation's choice over ::1)."""
    return f"Unable to connect to specified port: dial tcp {dial_address(port, host)}: connect: connection refused"


def dial_timeout(port: int | str, host: str) -> str:
    """InitializeSession's error when a security group or network ACL drops the SYN: Go's dial error once the
    kernel gives up (net.Dial has no timeout of its own)."""
    return f"Unable to connect to specified port: dial tcp {dial_address(port, host)}: connect: connection timed out"


def chunks(data: bytes, size: int = PAYLOAD_SIZE) -> list[bytes]:
    """Bytes as stream messages carry them: at most StreamDataPayloadSize each."""
    return [data[i:i + size] for i in range(0, len(data), size)]
