"""EC2 Instance Connect's SendSSHPublicKey, which moto answers without remembering anything, and the keys it
leaves on each instance for the simulated sshd (`sshd`) to accept.

Faithful to the EC2 Instance Connect API Reference (botocore's model `ec2-instance-connect` 2018-04-02):
InstanceId, InstanceOSUser and SSHPublicKey are required and checked against the model's patterns and lengths
(InvalidArgsException otherwise), AvailabilityZone is optional; an unknown instance is
EC2InstanceNotFoundException, one that is not running EC2InstanceStateInvalidException ("Unable to connect
because the instance is not in a valid state. …", the model's words); the answer is {RequestId, Success: true}.
"The key remains for 60 seconds": on the instance, sshd's AuthorizedKeysCommand (the ec2-instance-connect
package, preinstalled on Amazon Linux 2023 and Ubuntu 20.04 and later: EC2 User Guide, "Install EC2 Instance
Connect") reads the pushed key from the instance metadata while it lasts.

The simulation's choices: the 60 seconds are the emulator's simulated clock (the instance's time, which runs
faster than the wall clock: push the key right before connecting, as the ProxyCommand `ssmlab ssh-config`
writes does); the key types accepted are those sshd accepts (RSA of 2048 bits or more, ECDSA, Ed25519), and a
key that does not parse is InvalidArgsException with ssmlab's words; IAM permissions are not checked (the
emulator checks no IAM policy).
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from ssmlab.emulator.protocol import AwsError
from ssmlab.session.ssh import valid_os_user

SERVICE = "ec2-instance-connect"
KEY_LIFETIME = 60.0  # seconds: "The key remains for 60 seconds." (API Reference, SendSSHPublicKey)
INSTANCE_ID = re.compile(r"^i-[a-f0-9]+$")
KEY_TYPES = ("ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class PushedKey:
    """One SendSSHPublicKey: whose key, for which OS user, until when (simulated epoch seconds)."""

    instance_id: str
    os_user: str
    key_type: str
    blob: bytes
    expires: float


class PushedKeys:
    """The keys pushed to each instance, as its metadata holds them for sshd while they last."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self._keys: list[PushedKey] = []
        self._lock = threading.Lock()

    def push(self, instance_id: str, os_user: str, key_type: str, blob: bytes) -> None:
        now = self.clock.now()
        with self._lock:
            self._keys = [k for k in self._keys if k.expires > now]
            self._keys.append(PushedKey(instance_id, os_user, key_type, blob, now + KEY_LIFETIME))

    def authorizes(self, instance_id: str, os_user: str, key_type: str, blob: bytes) -> bool:
        """Whether sshd would accept this public key for `os_user` now."""
        now = self.clock.now()
        with self._lock:
            return any(k.instance_id == instance_id and k.os_user == os_user and k.blob == blob
                       and k.key_type == key_type and k.expires > now for k in self._keys)


def parse_public_key(text: str) -> tuple[str, bytes]:
    """An OpenSSH public key line ("TYPE BASE64 [comment]") as (type, blob); InvalidArgsException otherwise."""
    parts = text.strip().split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise _invalid(f"SSHPublicKey is not an OpenSSH public key of a supported type ({', '.join(KEY_TYPES)})")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        named = blob[4:4 + length].decode()
    except (binascii.Error, struct.error, UnicodeDecodeError):
        raise _invalid("SSHPublicKey's key data is not valid base64 of an SSH public key") from None
    if named != parts[0]:
        raise _invalid(f"SSHPublicKey says {parts[0]} but its key data is {named!r}")
    if named == "ssh-rsa" and _rsa_bits(blob) < MIN_RSA_BITS:
        raise _invalid(f"SSHPublicKey: an RSA key must have at least {MIN_RSA_BITS} bits")
    return named, blob


def _rsa_bits(blob: bytes) -> int:
    """The modulus length of an ssh-rsa blob (string type, mpint e, mpint n)."""
    offset, fields = 0, []
    for _ in range(3):
        (length,) = struct.unpack(">I", blob[offset:offset + 4])
        fields.append(blob[offset + 4:offset + 4 + length])
        offset += 4 + length
    return int.from_bytes(fields[2], "big").bit_length()


def _invalid(message: str) -> AwsError:
    return AwsError(400, "InvalidArgsException", message)


def send_ssh_public_key(request: Any, keys: PushedKeys) -> dict[str, Any]:
    """The action: checks as the model and the service do, then the key kept for 60 seconds."""
    from moto.ec2.models import ec2_backends

    params = request.params or {}
    for name in ("InstanceId", "InstanceOSUser", "SSHPublicKey"):
        if not isinstance(params.get(name), str) or not params[name]:
            raise _invalid(f"{name} is required")
    instance_id, os_user, text = params["InstanceId"], params["InstanceOSUser"], params["SSHPublicKey"]
    if not 10 <= len(instance_id) <= 32 or not INSTANCE_ID.match(instance_id):
        raise _invalid(f"InstanceId {instance_id!r} is not valid: expected i- followed by hex digits")
    if not valid_os_user(os_user):
        raise _invalid(f"InstanceOSUser {os_user!r} is not a valid user name")
    if not 80 <= len(text) <= 4096:
        raise _invalid("SSHPublicKey must be 80 to 4096 characters long")
    key_type, blob = parse_public_key(text)
    backend = ec2_backends[request.account_id][request.region]
    instance = next((i for i in backend.all_instances() if i.id == instance_id), None)
    if instance is None:
        raise AwsError(400, "EC2InstanceNotFoundException", f"Instance ID {instance_id} was not found.")
    if instance.state != "running":
        raise AwsError(400, "EC2InstanceStateInvalidException",
                       "Unable to connect because the instance is not in a valid state. Connecting to a stopped or "
                       "terminated instance is not supported. If the instance is stopped, start your instance, "
                       "and try to connect again.")
    keys.push(instance_id, os_user, key_type, blob)
    return {"RequestId": str(uuid.uuid4()), "Success": True}


def install(app: Any, clock: Any) -> PushedKeys:
    """Answer SendSSHPublicKey on `app` instead of moto; returns the instances' pushed keys."""
    from ssmlab.emulator.rendering import json_response

    keys = PushedKeys(clock)

    def handle(request: Any) -> Any:
        return json_response(send_ssh_public_key(request, keys))

    handle.__qualname__ = "instance_connect.SendSSHPublicKey"
    app.router.register(SERVICE, "SendSSHPublicKey", handle)
    return keys
