"""The Session Manager data channel's wire format, as the plugin and the agent encode it. Pure: bytes in, bytes out.

Sources (aws/session-manager-plugin): `src/message/clientmessage.go` (field sizes, offsets, message and payload
types, AcknowledgeContent, ChannelClosed), `src/message/messageparser.go` (SerializeClientMessage,
DeserializeClientMessage, Validate, putUuid/getUuid, putString), `src/message/handshakemessage.go` (the
handshake's JSON), `src/datachannel/streaming.go` (FinalizeDataChannelHandshake's opening text frame,
SendInputDataMessage, SendAcknowledgeMessage, HandleOutputMessage's ordering). The agent's side is
aws/amazon-ssm-agent `agent/session/datachannel/datachannel.go` (SendStreamDataMessage,
handleStreamDataMessage, sendAgentMessage). Both ends use the same layout, so one codec serves the client
and the emulator's agent.
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
import uuid
from dataclasses import dataclass, field

# Message types (clientmessage.go).
INPUT_STREAM = "input_stream_data"
OUTPUT_STREAM = "output_stream_data"
ACKNOWLEDGE = "acknowledge"
CHANNEL_CLOSED = "channel_closed"
START_PUBLICATION = "start_publication"
PAUSE_PUBLICATION = "pause_publication"
STREAM_TYPES = (INPUT_STREAM, OUTPUT_STREAM)

# Payload types (clientmessage.go, PayloadType).
OUTPUT, ERROR, SIZE, PARAMETER = 1, 2, 3, 4
HANDSHAKE_REQUEST, HANDSHAKE_RESPONSE, HANDSHAKE_COMPLETE = 5, 6, 7
ENC_CHALLENGE_REQUEST, ENC_CHALLENGE_RESPONSE, FLAG, STDERR, EXIT_CODE = 8, 9, 10, 11, 12
# Flag payloads (clientmessage.go, PayloadTypeFlag): a 4-byte big-endian number.
DISCONNECT_TO_PORT, TERMINATE_SESSION, CONNECT_TO_PORT_ERROR = 1, 2, 3

# Handshake actions and statuses (handshakemessage.go).
KMS_ENCRYPTION, SESSION_TYPE = "KMSEncryption", "SessionType"
SUCCESS, FAILED, UNSUPPORTED = 1, 2, 3
STANDARD_STREAM = "Standard_Stream"  # the shell's SessionType (config.ShellPluginName in the plugin)

MESSAGE_SCHEMA_VERSION = "1.0"  # the opening frame's (src/config/config.go)
# The header: HeaderLength 4, MessageType 32, SchemaVersion 4, CreatedDate 8, SequenceNumber 8, Flags 8,
# MessageId 16, PayloadDigest 32, PayloadType 4 = 116 bytes; then PayloadLength 4 and the payload.
_HEADER = struct.Struct(">I32sIQqQ16s32sI")
HEADER_LENGTH = _HEADER.size  # 116, what SerializeClientMessage writes as HeaderLength
_PAYLOAD_LENGTH = struct.Struct(">I")
# Acknowledgements and other agent messages: sendAgentMessage's schemaVersion 1, sequenceNumber 0, flags 3.
CONTROL_FLAGS = 3
# The plugin's IncomingMessageBuffer capacity (src/config/config.go, IncomingMessageBufferCapacity).
BUFFER_CAPACITY = 10000


class ProtocolError(ValueError):
    """A frame that is not a valid client message: its reason says which field is wrong."""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class ClientMessage:
    message_type: str
    sequence_number: int = 0
    payload_type: int = 0
    payload: bytes = b""
    flags: int = 0
    message_id: uuid.UUID = field(default_factory=uuid.uuid4)
    schema_version: int = 1
    created_ms: int = field(default_factory=now_ms)

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")

    def json(self) -> dict:
        try:
            return json.loads(self.payload)
        except ValueError as error:
            raise ProtocolError(f"{self.message_type} payload is not JSON: {error}") from None


def encode(message: ClientMessage) -> bytes:
    """SerializeClientMessage: big-endian, the type space-padded (putString), the id's halves swapped (putUuid)."""
    kind = message.message_type.encode("ascii")
    if len(kind) > 32:
        raise ProtocolError(f"message type {message.message_type!r} is longer than 32 bytes")
    header = _HEADER.pack(
        HEADER_LENGTH, kind.ljust(32, b" "), message.schema_version, message.created_ms, message.sequence_number,
        message.flags, _uuid_to_wire(message.message_id), hashlib.sha256(message.payload).digest(),
        message.payload_type,
    )
    return header + _PAYLOAD_LENGTH.pack(len(message.payload)) + message.payload


def decode(frame: bytes) -> ClientMessage:
    """DeserializeClientMessage and Validate: every length checked, and the payload's SHA-256 digest."""
    if len(frame) < HEADER_LENGTH + _PAYLOAD_LENGTH.size:
        raise ProtocolError(f"frame of {len(frame)} bytes is shorter than the {HEADER_LENGTH + 4}-byte header")
    (header_length, kind, schema, created, sequence, flags, wire_id, digest,
     payload_type) = _HEADER.unpack_from(frame)
    if header_length != HEADER_LENGTH:
        raise ProtocolError(f"HeaderLength is {header_length}, expected {HEADER_LENGTH}")
    (length,) = _PAYLOAD_LENGTH.unpack_from(frame, HEADER_LENGTH)
    payload = frame[HEADER_LENGTH + _PAYLOAD_LENGTH.size:]
    if length != len(payload):
        raise ProtocolError(f"PayloadLength is {length} but {len(payload)} payload bytes follow")
    message_type = kind.strip(b"\x00").decode("ascii", errors="replace").strip()  # getString
    if message_type in (START_PUBLICATION, PAUSE_PUBLICATION):
        pass  # Validate accepts these as they come
    elif not message_type:
        raise ProtocolError("MessageType is missing")
    elif created == 0:
        raise ProtocolError("CreatedDate is missing")
    elif payload and hashlib.sha256(payload).digest() != digest:
        raise ProtocolError(f"payload digest does not match the {message_type} payload (SHA-256)")
    return ClientMessage(message_type, sequence, payload_type, payload, flags, _uuid_from_wire(wire_id), schema,
                         created)


def _uuid_to_wire(value: uuid.UUID) -> bytes:
    """putUuid writes the least significant 8 bytes first, then the most significant."""
    return value.bytes[8:] + value.bytes[:8]


def _uuid_from_wire(wire: bytes) -> uuid.UUID:
    return uuid.UUID(bytes=wire[8:] + wire[:8])  # getUuid


def _json(value: object) -> bytes:
    """Go's json.Marshal: compact, keys in the struct's order."""
    return json.dumps(value, separators=(",", ":")).encode()


# -- messages ------------------------------------------------------------------------------------------------


def stream(message_type: str, sequence_number: int, payload_type: int, payload: bytes, flags: int = 0) -> ClientMessage:
    """A stream data message (SendInputDataMessage / SendStreamDataMessage: schema 1; the agent flags its first 1)."""
    return ClientMessage(message_type, sequence_number, payload_type, payload, flags)


def acknowledge(message: ClientMessage) -> ClientMessage:
    """The acknowledgement of a stream message (SendAcknowledgeMessage, SerializeClientMessageWithAcknowledgeContent)."""
    content = {
        "AcknowledgedMessageType": message.message_type,
        "AcknowledgedMessageId": str(message.message_id),
        "AcknowledgedMessageSequenceNumber": message.sequence_number,
        "IsSequentialMessage": True,
    }
    return ClientMessage(ACKNOWLEDGE, 0, 0, _json(content), CONTROL_FLAGS)


def acknowledged(message: ClientMessage) -> tuple[str, str, int]:
    """What an acknowledgement acknowledges: (message type, message id, sequence number)."""
    content = message.json()
    try:
        return (content["AcknowledgedMessageType"], content["AcknowledgedMessageId"],
                int(content["AcknowledgedMessageSequenceNumber"]))
    except (KeyError, TypeError, ValueError):
        raise ProtocolError(f"acknowledge content lacks its fields: {content!r}") from None


def opening_frame(token: str, client_id: str, client_version: str, request_id: str | None = None) -> str:
    """The text frame that opens the channel (FinalizeDataChannelHandshake's OpenDataChannelInput)."""
    return json.dumps({
        "MessageSchemaVersion": MESSAGE_SCHEMA_VERSION,
        "RequestId": request_id or str(uuid.uuid4()),
        "TokenValue": token,
        "ClientId": client_id,
        "ClientVersion": client_version,
    }, separators=(",", ":"))


def read_opening_frame(text: str) -> dict:
    try:
        frame = json.loads(text)
    except ValueError:
        raise ProtocolError("the opening frame is not JSON") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("TokenValue"), str):
        raise ProtocolError("the opening frame has no TokenValue")
    return frame


def channel_closed(session_id: str, output: str, destination_id: str = "", created: str = "") -> ClientMessage:
    """channel_closed with its JSON (clientmessage.go, ChannelClosed); the plugin prints Output and exits."""
    message_id = uuid.uuid4()
    content = {"MessageId": str(message_id), "CreatedDate": created, "DestinationId": destination_id,
               "SessionId": session_id, "MessageType": CHANNEL_CLOSED, "SchemaVersion": 1, "Output": output}
    return ClientMessage(CHANNEL_CLOSED, 0, 0, _json(content), CONTROL_FLAGS, message_id)


def handshake_request(agent_version: str, session_type: str, properties: object = None,
                      kms_key_id: str | None = None) -> bytes:
    """HandshakeRequestPayload (buildHandshakeRequestPayload): SessionType first, KMSEncryption when asked."""
    actions = [{"ActionType": SESSION_TYPE, "ActionParameters": {"SessionType": session_type, "Properties": properties}}]
    if kms_key_id:
        actions.append({"ActionType": KMS_ENCRYPTION, "ActionParameters": {"KMSKeyId": kms_key_id}})
    return _json({"AgentVersion": agent_version, "RequestedClientActions": actions})


def processed_action(action_type: str, status: int, error: str = "", result: object = None) -> dict:
    return {"ActionType": action_type, "ActionStatus": status, "ActionResult": result, "Error": error}


def handshake_response(client_version: str, processed: list[dict], errors: list[str]) -> bytes:
    """HandshakeResponsePayload (handleHandshakeRequest); Errors is null when empty, as Go marshals a nil slice."""
    return _json({"ClientVersion": client_version, "ProcessedClientActions": processed, "Errors": errors or None})


def handshake_complete(seconds: float, customer_message: str = "") -> bytes:
    """HandshakeCompletePayload: HandshakeTimeToComplete is a Go time.Duration, nanoseconds in JSON."""
    return _json({"HandshakeTimeToComplete": int(seconds * 1e9), "CustomerMessage": customer_message})


def size(cols: int, rows: int) -> bytes:
    return _json({"cols": cols, "rows": rows})  # SizeData


def flag(value: int) -> bytes:
    return struct.pack(">I", value)  # SendFlag: binary.Write of a uint32, big-endian


def read_flag(payload: bytes) -> int:
    if len(payload) != 4:
        raise ProtocolError(f"a Flag payload is 4 bytes, not {len(payload)}")
    return struct.unpack(">I", payload)[0]


# -- ordering ------------------------------------------------------------------------------------------------


class InOrderReceiver:
    """Stream messages in sequence order, as both ends keep them (the agent's handleStreamDataMessage, the
    plugin's HandleOutputMessage): the expected one is delivered with any buffered ones that follow it; a
    later one is buffered while there is room; an earlier one (a resend) is dropped. Every stream message
    delivered, buffered or dropped is acknowledged — the agent re-acknowledges resends so the sender stops
    resending; the plugin drops them unacknowledged; this receiver does what the agent does for both ends."""

    def __init__(self, capacity: int = BUFFER_CAPACITY) -> None:
        self.expected = 0
        self.capacity = capacity
        self._buffer: dict[int, ClientMessage] = {}

    def accept(self, message: ClientMessage) -> tuple[list[ClientMessage], bool]:
        """(the messages now deliverable, in order; whether to acknowledge this one)."""
        number = message.sequence_number
        if number < self.expected:
            return [], True
        if number > self.expected:
            if number in self._buffer or len(self._buffer) < self.capacity:
                self._buffer[number] = message
                return [], True
            return [], False
        delivered = [message]
        self.expected += 1
        while self.expected in self._buffer:
            delivered.append(self._buffer.pop(self.expected))
            self.expected += 1
        return delivered, True
