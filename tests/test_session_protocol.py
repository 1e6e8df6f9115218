"""The data channel's wire format against bytes laid out by hand from the plugin's Go source
(aws/session-manager-plugin src/message/clientmessage.go offsets, messageparser.go Serialize/Deserialize)."""

from __future__ import annotations

import hashlib
import json
import struct
import uuid

import pytest

from ssmlab.session import protocol as wire

MESSAGE_ID = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")


def go_bytes(message_type: str, sequence: int, payload_type: int, payload: bytes, flags: int = 0,
             created: int = 1_700_000_000_123, digest: bytes | None = None) -> bytes:
    """SerializeClientMessage, field by field: HL 116; type padded with spaces (putString); putUuid writes
    bytes 8..16 of the UUID, then 0..8; SHA-256 digest; PayloadType; PayloadLength; payload."""
    out = struct.pack(">I", 116)
    out += message_type.encode().ljust(32, b" ")
    out += struct.pack(">I", 1) + struct.pack(">Q", created) + struct.pack(">q", sequence) + struct.pack(">Q", flags)
    out += MESSAGE_ID.bytes[8:16] + MESSAGE_ID.bytes[0:8]
    out += digest if digest is not None else hashlib.sha256(payload).digest()
    out += struct.pack(">I", payload_type) + struct.pack(">I", len(payload)) + payload
    return out


def test_a_message_round_trips_to_the_plugins_bytes():
    raw = go_bytes("input_stream_data", 7, wire.OUTPUT, b"ls -l\r", created=1_700_000_000_123)
    message = wire.ClientMessage(wire.INPUT_STREAM, 7, wire.OUTPUT, b"ls -l\r", 0, MESSAGE_ID, 1, 1_700_000_000_123)
    assert wire.encode(message) == raw and len(raw) == 116 + 4 + 6
    assert wire.decode(raw) == message
    negative = wire.decode(go_bytes("output_stream_data", -1, wire.EXIT_CODE, b"0"))
    assert negative.sequence_number == -1 and negative.message_type == wire.OUTPUT_STREAM


def test_a_bad_digest_or_length_is_a_clear_error():
    with pytest.raises(wire.ProtocolError, match="payload digest does not match"):
        wire.decode(go_bytes("output_stream_data", 0, wire.OUTPUT, b"hi", digest=b"\0" * 32))
    with pytest.raises(wire.ProtocolError, match="PayloadLength is 2 but 1"):
        wire.decode(go_bytes("output_stream_data", 0, wire.OUTPUT, b"hi")[:-1])
    with pytest.raises(wire.ProtocolError, match="shorter than the 120-byte header"):
        wire.decode(b"\0\0\0\x74junk")
    with pytest.raises(wire.ProtocolError, match="HeaderLength is 115"):
        wire.decode(struct.pack(">I", 115) + go_bytes("acknowledge", 0, 0, b"{}")[4:])
    with pytest.raises(wire.ProtocolError, match="CreatedDate is missing"):
        wire.decode(go_bytes("output_stream_data", 0, wire.OUTPUT, b"x", created=0))


def test_an_acknowledgement_names_the_message_as_the_plugin_does():
    message = wire.decode(go_bytes("output_stream_data", 3, wire.OUTPUT, b"$ "))
    ack = wire.decode(wire.encode(wire.acknowledge(message)))
    assert (ack.message_type, ack.sequence_number, ack.flags, ack.schema_version) == ("acknowledge", 0, 3, 1)
    assert json.loads(ack.payload) == {"AcknowledgedMessageType": "output_stream_data",
                                       "AcknowledgedMessageId": str(MESSAGE_ID),
                                       "AcknowledgedMessageSequenceNumber": 3, "IsSequentialMessage": True}
    assert wire.acknowledged(ack) == ("output_stream_data", str(MESSAGE_ID), 3)


def test_the_opening_frame_handshake_and_channel_closed_shapes():
    opening = json.loads(wire.opening_frame("tok", "client", "1.2.0.0", "req"))
    assert opening == {"MessageSchemaVersion": "1.0", "RequestId": "req", "TokenValue": "tok",
                       "ClientId": "client", "ClientVersion": "1.2.0.0"}
    request = json.loads(wire.handshake_request("3.3.40.0", "Standard_Stream", kms_key_id="arn:key"))
    assert [a["ActionType"] for a in request["RequestedClientActions"]] == ["SessionType", "KMSEncryption"]
    response = json.loads(wire.handshake_response("1.2.0.0", [wire.processed_action("SessionType", wire.SUCCESS)], []))
    assert response["Errors"] is None and response["ProcessedClientActions"][0]["ActionStatus"] == 1
    assert json.loads(wire.handshake_complete(1.5))["HandshakeTimeToComplete"] == 1_500_000_000
    closed = wire.decode(wire.encode(wire.channel_closed("s-1", "bye", "i-1")))
    assert closed.json()["SessionId"] == "s-1" and closed.json()["Output"] == "bye"
    assert wire.read_flag(wire.flag(wire.TERMINATE_SESSION)) == 2


def test_the_receiver_delivers_in_order_drops_duplicates_and_buffers_the_early():
    receiver = wire.InOrderReceiver(capacity=2)
    msg = [wire.stream(wire.INPUT_STREAM, n, wire.OUTPUT, bytes([65 + n])) for n in range(5)]
    assert receiver.accept(msg[0]) == ([msg[0]], True)
    assert receiver.accept(msg[0]) == ([], True)  # a resend: dropped, acknowledged again
    assert receiver.accept(msg[2]) == ([], True)  # early: buffered
    assert receiver.accept(msg[3]) == ([], True)
    assert receiver.accept(msg[4]) == ([], False)  # no room: neither kept nor acknowledged
    assert receiver.accept(msg[1]) == ([msg[1], msg[2], msg[3]], True)
    assert receiver.expected == 4
