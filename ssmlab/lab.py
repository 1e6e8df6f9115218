"""A Lab is (name, region, target): the value every step, reader and command starts from.

It validates its own fields (so bad input fails before anything is created), owns the
tags that mark what the kit created, and hands out boto3 clients that point at the
embedded emulator or at a real account — never silently at the other one.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any

from ssmlab import settings
from ssmlab.errors import BadInput
from ssmlab.model.tags import TAG_KEY, kit_tags  # TAG_KEY: the steps and readers filter by it through Lab

LAB_HEADER = "X-Ssmlab-Lab"
"""On the emulator only: the lab a request comes from, for the emulator's call log."""

TARGETS = ("emulator", "aws")
SERVICES = ("ec2", "iam", "kms", "logs", "pricing", "resourcegroupstaggingapi", "s3", "ssm", "sts")
"""The AWS services the kit's clients call; on target aws none may have an endpoint URL configured."""
LAB_NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,23}")

# Dummy credentials for the emulator: moto accepts any, and real AWS rejects these.
EMULATOR_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}


def emulator_credentials() -> dict[str, str]:
    """The keys aimed at the emulator: a class participant's (`$SSMLAB_ACCESS_KEY_ID` and
    `$SSMLAB_SECRET_ACCESS_KEY`, classkeys), else the dummy ones. Never the user's AWS keys."""
    keys = settings.current().emulator_keys
    if keys is None:
        return dict(EMULATOR_CREDENTIALS)
    return {"aws_access_key_id": keys[0], "aws_secret_access_key": keys[1]}


def validate_name(name: str) -> str:
    """Lab names end up in IAM names, bucket names and tags, so they are kept short and plain."""
    if not isinstance(name, str) or not LAB_NAME_RE.fullmatch(name):
        raise BadInput(
            f"invalid lab name {name!r}: expected 1-24 lowercase letters, digits or hyphens, "
            "starting with a letter (e.g. 'demo' or 'alice-01')"
        )
    return name


def known_regions() -> list[str]:
    """Regions botocore knows for EC2, in every partition (the list ships with botocore)."""
    return list(_known_regions())


@lru_cache(maxsize=1)
def _known_regions() -> tuple[str, ...]:
    """Read once per process: every Lab validates its region, and a notebook kernel makes one per notebook."""
    import boto3

    session = boto3.session.Session(botocore_session=_botocore_core())
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return tuple(sorted(regions))


_EMULATOR_CLIENTS: dict[tuple, Any] = {}
_EMULATOR_CLIENTS_LOCK = threading.Lock()


class _SearchPaths(list):
    """A loader's search paths: boto3 appends its own data folder for every Session it makes on the
    loader, and a shared loader needs it once."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


@lru_cache(maxsize=None)
def _shared_loader(data_path: str | None):
    """botocore's data loader for one AWS_DATA_PATH, shared by every session of the process.

    botocore caches the service models it parses (megabytes of JSON: ec2's takes about 0.1 s) per
    loader, and each botocore session makes its own loader: a Lab per notebook in a warm kernel would
    parse them all again. The models are read-only data, the same for every session."""
    from botocore.loaders import Loader

    paths = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)] if data_path else []
    return Loader(extra_search_paths=_SearchPaths(paths))


def _botocore_core():
    """A new botocore session (its own credentials and config) on the process's shared data loader."""
    import botocore.session

    core = botocore.session.Session()
    core.register_component("data_loader", _shared_loader(core.get_config_variable("data_path")))
    return core


def validate_region(region: str) -> str:
    if region not in known_regions():
        raise BadInput(
            f"invalid region {region!r}: expected an AWS region code such as ap-northeast-1, "
            "us-east-1 or eu-west-1 (see `aws ec2 describe-regions`)"
        )
    return region


def validate_target(target: str) -> str:
    if target not in TARGETS:
        raise BadInput(f"invalid target {target!r}: expected 'emulator' or 'aws'")
    return target


def default_region() -> str:
    return settings.current().region


def default_target() -> str:
    return settings.current().target


def default_lab_name() -> str:
    """$SSMLAB_LAB, else the JupyterHub user's name made a lab name (a class: one lab per participant), else demo."""
    return settings.current().lab


@dataclass(frozen=True)
class Lab:
    """One learner's lab: what it is called, where it lives, and which AWS it talks to."""

    name: str
    region: str = field(default_factory=default_region)
    target: str = field(default_factory=default_target)

    def __post_init__(self) -> None:
        validate_name(self.name)
        validate_target(self.target)
        validate_region(self.region)

    # -- tags -------------------------------------------------------------------------

    def tags(self, role: str) -> list[dict[str, str]]:
        """The two tags on everything the kit creates: the lab marker and a readable Name."""
        return kit_tags(self.name, role)

    def tag_specifications(self, resource_type: str, role: str) -> list[dict[str, Any]]:
        return [{"ResourceType": resource_type, "Tags": self.tags(role)}]

    @property
    def tag_filter(self) -> dict[str, Any]:
        """The describe filter that finds this lab's resources and nothing else."""
        return {"Name": f"tag:{TAG_KEY}", "Values": [self.name]}

    def iam_name(self, role: str) -> str:
        """IAM is global to the account, so IAM names carry the lab name as a prefix."""
        return f"{self.name}-{role}"

    # -- AWS access -------------------------------------------------------------------

    @property
    def is_emulator(self) -> bool:
        return self.target == "emulator"

    @cached_property
    def endpoint_url(self) -> str | None:
        """The emulator's URL (started on demand), or None for real AWS."""
        if not self.is_emulator:
            return None
        from ssmlab import emulator

        return emulator.endpoint_url()

    @cached_property
    def session(self):
        """A boto3 session for this target; for aws, one that really has credentials."""
        import boto3

        if self.is_emulator:
            # Explicit dummy keys win over whatever profile or keys the user has set,
            # so nothing aimed at the emulator can ever sign a request for a real account.
            return boto3.session.Session(region_name=self.region, botocore_session=_botocore_core(),
                                         **emulator_credentials())
        session = boto3.session.Session(region_name=self.region, botocore_session=self._botocore_session)
        if session.get_credentials() is None:
            raise BadInput(
                "no AWS credentials found for target aws: configure them (aws configure, "
                "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or use --target emulator"
            )
        return session

    @property
    def create_attempts(self) -> int:
        """Attempts in all for a create sent without botocore's retries (`idempotent.create_or_adopt`)."""
        return 5 if self.is_emulator else 10

    @cached_property
    def _single_attempt_config(self):
        """No automatic retry: for creates that AWS cannot de-duplicate (no ClientToken), retried by the kit
        only after it has looked for what the lost attempt may have created."""
        from botocore.config import Config

        return self._client_config.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))

    @cached_property
    def _botocore_session(self):
        """For target aws, before any call: refused when an endpoint URL configured in the environment
        or the AWS config would send the kit's calls somewhere other than AWS."""
        from ssmlab import configured_endpoints

        core = _botocore_core()
        configured_endpoints.refuse(core, SERVICES)
        return core

    @cached_property
    def _client_config(self):
        from botocore.config import Config

        if self.is_emulator:
            # The emulator answered its health check before any client exists (emulator.endpoint_url),
            # so retries here are for throttling and faults injected on purpose: five attempts in all
            # leave a 10% fault rate one failed call in 100,000.
            return Config(
                retries={"mode": "standard", "total_max_attempts": 5},
                connect_timeout=2,
                read_timeout=60,
            )
        return Config(retries={"mode": "adaptive", "total_max_attempts": 10})

    def client(self, service: str, region: str | None = None, *, retries: bool = True):
        """A boto3 client for this lab's target (cached per service, region and retry behaviour): with
        botocore's retries, or (`retries=False`) a single attempt per call for `idempotent.create_or_adopt`."""
        key = (service, region or self.region, retries)
        cache = self.__dict__.setdefault("_clients", {})
        if key in cache:
            return cache[key]
        # Reads run in threads (aws.together), and a boto3 session must not make two clients at once.
        with self.__dict__.setdefault("_clients_lock", threading.Lock()):
            if key not in cache:
                cache[key] = self._emulator_client(key) if self.is_emulator else self._new_client(*key)
            return cache[key]

    def _emulator_client(self, key: tuple[str, str, bool]):
        """On the emulator, one client per lab, emulator and service in the process, whichever Lab asks: a
        notebook kernel makes a Lab per notebook, and each new client costs ~10 ms of botocore's set-up.
        Keyed by the credentials too (the dummy ones, or a class participant's: `emulator_credentials`), so a
        client never signs with keys the environment no longer gives (on target aws each Lab makes its own:
        the profile or keys may change between them)."""
        shared = (self.endpoint_url, self.name, settings.current().emulator_keys, *key)
        with _EMULATOR_CLIENTS_LOCK:
            if shared not in _EMULATOR_CLIENTS:
                _EMULATOR_CLIENTS[shared] = self._new_client(*key)
            return _EMULATOR_CLIENTS[shared]

    def _new_client(self, service: str, region: str, retries: bool):
        if not self.is_emulator and service not in SERVICES:  # a service added since: checked too
            from ssmlab import configured_endpoints

            configured_endpoints.refuse(self._botocore_session, [service])
        client = self.session.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint_url,
            config=self._client_config if retries else self._single_attempt_config,
        )
        client.meta.events.register("after-call", functools.partial(_remember_service_time, client.meta))
        if self.is_emulator:
            # The emulator's call log attributes each request to its lab (never sent to AWS).
            client.meta.events.register("before-sign", self._mark_request)
        if not retries:
            from ssmlab.idempotent import mark_attempt

            client.meta.events.register_last("request-created", mark_attempt)
        return client

    def _mark_request(self, request, **_: Any) -> None:
        request.headers[LAB_HEADER] = self.name

    @property
    def waiter_config(self) -> dict[str, int]:
        """Poll fast against the emulator, at AWS's pace against AWS."""
        if self.is_emulator:
            return {"Delay": 1, "MaxAttempts": 60}
        return {"Delay": 5, "MaxAttempts": 120}

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    @cached_property
    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]


def _remember_service_time(meta: Any, http_response: Any = None, **_: Any) -> None:
    """Keep the Date header of the client's last answer (see `service_time`)."""
    date = getattr(http_response, "headers", {}).get("Date") if http_response is not None else None
    if date:
        meta.ssmlab_service_date = date


def service_time(client: Any) -> datetime | None:
    """The service's clock at the client's last answer (its Date header), None before any answer. It is
    AWS's own time on AWS, whatever this machine's clock says, and the simulated time on the emulator,
    whose instances' launch times are simulated too: what "how long has it run" must be measured with."""
    from email.utils import parsedate_to_datetime

    date = getattr(client.meta, "ssmlab_service_date", None)
    try:
        return parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        return None
