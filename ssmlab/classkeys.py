"""A class's credentials: the roster file, and every participant's key pair derived from the class secret.

One secret per class (in the roster file, or `$SSMLAB_CLASS_SECRET` for a hub that generates it) gives each
participant an access key pair of their own, derived with HMAC-SHA256, so nobody has to hand out, store or
revoke keys one by one, and a JupyterHub can give a user's server its keys from the user's name alone. The
access key id names the lab (`ssmlab-<lab>`), the way AWS's access key id names its user to IAM; what proves
it is the secret key, which only the participant (and the emulator, from the class secret) can compute: the
emulator checks every request's SigV4 signature with it. The facilitator's key pair, and the dashboard's
token, come from the same secret.

Pure: no AWS import. The roster is JSON:
`{"secret": "...", "participants": ["alice", "Bob.Smith"], "region": "ap-northeast-1"}` — the participants
(JupyterHub user names or lab names) only list who to expect; any lab name signs in with its derived keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from ssmlab import settings
from ssmlab.errors import BadInput

SECRET_VAR = "SSMLAB_CLASS_SECRET"
ACCESS_KEY_VAR = settings.ACCESS_KEY_VAR
SECRET_KEY_VAR = settings.SECRET_KEY_VAR
KEY_PREFIX = "ssmlab-"
FACILITATOR_KEY_ID = "SSMLABFACILITATOR"  # upper case: never a lab's (lab names are lower case)
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class Roster:
    """A class: its secret, who to expect (each a lab name) and where it runs."""

    secret: str
    participants: tuple[str, ...] = ()
    region: str | None = None
    users: Mapping[str, str] = field(default_factory=dict)  # lab -> the name it was made from

    def credentials(self, lab: str) -> Credentials:
        return participant_credentials(self.secret, lab)

    @property
    def facilitator(self) -> Credentials:
        return facilitator_credentials(self.secret)

    @property
    def dashboard_token(self) -> str:
        """What the facilitator gives the dashboard when no JupyterHub signs them in (hex: safe in a URL)."""
        return hmac.new(self.secret.encode(), b"dashboard", hashlib.sha256).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        return {"secret": self.secret, "participants": [self.users.get(lab, lab) for lab in self.participants],
                **({"region": self.region} if self.region else {})}


def _derive(secret: str, purpose: str) -> str:
    digest = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode().rstrip("=")[:40]


@lru_cache(maxsize=8)
def facilitator_credentials(secret: str) -> Credentials:
    return Credentials(FACILITATOR_KEY_ID, _derive(secret, "facilitator"))


@lru_cache(maxsize=1024)
def participant_credentials(secret: str, lab: str) -> Credentials:
    """The key pair of the participant whose lab is `lab` (kept: the emulator asks on every request)."""
    return Credentials(KEY_PREFIX + lab, _derive(secret, f"participant:{lab}"))


def lab_of_key(access_key_id: str) -> str | None:
    """The lab an access key id names, or None when it is no participant's."""
    from ssmlab.lab import LAB_NAME_RE

    lab = access_key_id[len(KEY_PREFIX):] if access_key_id.startswith(KEY_PREFIX) else ""
    return lab if LAB_NAME_RE.fullmatch(lab) else None


def participant_environ(secret: str, user: str, emulator_url: str | None = None) -> dict[str, str]:
    """What a participant's server (and so its kernels) needs: its lab, its keys, and the shared emulator.
    A JupyterHub's `c.Spawner.environment` calls this with the user's name."""
    lab = settings.lab_name_for_user(user) or settings.DEFAULT_LAB
    keys = participant_credentials(secret, lab)
    environ = {settings.LAB_VAR: lab, ACCESS_KEY_VAR: keys.access_key_id, SECRET_KEY_VAR: keys.secret_access_key,
               settings.TARGET_VAR: "emulator"}
    if emulator_url:
        environ[settings.EMULATOR_URL_VAR] = emulator_url
    return environ


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def roster(secret: str, names: list[str] | tuple[str, ...] = (), region: str | None = None) -> Roster:
    """A roster from a secret and participants' names (JupyterHub user names or lab names)."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise BadInput(f"the class secret is {len(secret)} characters long; give at least {MIN_SECRET_LENGTH}")
    users: dict[str, str] = {}
    for name in names:
        lab = settings.lab_name_for_user(str(name).strip())
        if lab is None:
            raise BadInput(f"participant {name!r} is empty; give a user name such as alice")
        if lab in users:
            raise BadInput(f"participants {users[lab]!r} and {name!r} would share the lab {lab!r}; rename one")
        users[lab] = str(name).strip()
    return Roster(secret, tuple(users), region, users)


def load(path: str | os.PathLike[str]) -> Roster:
    """Read a roster file; BadInput names the file and what is wrong with it."""
    where = Path(path)
    try:
        data = json.loads(where.read_text())
    except FileNotFoundError:
        raise BadInput(f"--class {where}: no such file; write one with `ssmlab class roster NAME... --out {where}`") from None
    except (OSError, ValueError) as exc:
        raise BadInput(f"--class {where}: not a roster ({exc}); expected JSON like "
                       '{"secret": "...", "participants": ["alice", "bob"]}') from None
    if not isinstance(data, dict) or not isinstance(data.get("secret"), str):
        raise BadInput(f"--class {where}: no \"secret\"; expected JSON like "
                       '{"secret": "...", "participants": ["alice", "bob"]}')
    names = data.get("participants") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadInput(f"--class {where}: \"participants\" must be a list of names, like [\"alice\", \"bob\"]")
    region = data.get("region")
    return roster(data["secret"], names, region if isinstance(region, str) else None)


def from_environ(environ: Mapping[str, str] | None = None) -> Roster | None:
    """The class a hub's service runs: `$SSMLAB_CLASS_SECRET`, without a roster file (None when unset)."""
    secret = ((environ if environ is not None else os.environ).get(SECRET_VAR) or "").strip()
    return roster(secret) if secret else None
