"""Endpoint URLs configured outside ssmlab that boto3 would honour: refused on target aws.

botocore (>= 1.31) sends a client's requests to a URL configured for its service in the
environment (AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL) or in the shared config
profile (the per-service `endpoint_url` of the profile's `services` section, then the
profile's own `endpoint_url`), unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (or the profile's
`ignore_configured_endpoint_urls`) is true. On target aws such a URL would send some calls
elsewhere — an emulator, say — while ssmlab says "REAL AWS account". So the lookup here is
botocore's own (ConfiguredEndpointProvider, the class its Session sets up for every client):
its variable names (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS for `logs`), its order, its switch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ssmlab.errors import BadInput


@dataclass(frozen=True)
class Configured:
    service: str  # the client name, e.g. "logs"
    source: str  # where botocore found it, e.g. "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"
    url: str


def configured(botocore_session: Any, services: Iterable[str]) -> list[Configured]:
    """The endpoint URL boto3 would use for each of `services` from outside the code, where botocore
    found it; [] when configured endpoints are switched off."""
    from botocore.configprovider import ConfiguredEndpointProvider
    from botocore.exceptions import InvalidConfigError

    if botocore_session.get_config_variable("ignore_configured_endpoint_urls"):
        return []
    found = []
    try:
        full, scoped = botocore_session.full_config, botocore_session.get_scoped_config()
        for service in services:
            provider = ConfiguredEndpointProvider(full_config=full, scoped_config=scoped, client_name=service)
            url = provider.provide()
            if url:
                found.append(Configured(service, _source(provider, botocore_session, scoped, service), url))
    except InvalidConfigError as error:  # e.g. `services = x` without a [services x] section
        raise BadInput(f"invalid AWS config: {error}") from None
    return found


def _source(provider: Any, session: Any, scoped: dict, service: str) -> str:
    """Which of botocore's four places gave the URL, named as the user would find it.

    botocore keeps the order and the per-place lookups private, so when they change the name
    degrades to a generic one; the URL itself always comes from `provide()` above."""
    try:
        location = next(where for where in provider._ENDPOINT_URL_LOOKUP_ORDER
                        if getattr(provider, f"_get_endpoint_url_{where}")())
        variable = provider._get_service_env_var_name()
    except (AttributeError, StopIteration):
        return f"an endpoint URL configured for {service}"
    config = f"{session.get_config_variable('config_file')}, profile {session.profile or 'default'}"
    return {
        "environment_service": variable,
        "environment_global": "AWS_ENDPOINT_URL",
        "config_service": f"endpoint_url for {variable[len('AWS_ENDPOINT_URL_'):].lower()} in "
                          f"[services {scoped.get('services')}] ({config})",
        "config_global": f"endpoint_url ({config})",
    }.get(location, f"an endpoint URL configured for {service}")


def refuse(botocore_session: Any, services: Iterable[str]) -> None:
    """Raise BadInput naming the first configured endpoint URL (and the other places) on target aws."""
    found = configured(botocore_session, services)
    if not found:
        return
    first = found[0]
    others = sorted({f.source for f in found} - {first.source})
    also = f" (and {', '.join(others)})" if others else ""
    raise BadInput(
        f"{first.source} is set to {first.url!r}{also} while the target is aws: boto3 would send ssmlab's "
        f"{first.service} calls there, not to AWS; unset it (or set AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), "
        "or use --target emulator"
    )
