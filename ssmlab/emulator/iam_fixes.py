"""IAM instance profiles as AWS lists them, where moto 5.2.5 does not.

Found when a learner's own profile at path `/` named with a lab's prefix
(`victim-ssm-instance-profile-mine`) made `ssmlab cleanup` crash on the emulator:
- ListInstanceProfiles ignores PathPrefix, Marker and MaxItems (moto/iam/responses.py
  lists every profile), and returns each profile's Tags, which AWS leaves out ("this
  operation does not return tags ... see GetInstanceProfile": IAM API Reference,
  ListInstanceProfiles);
- ListInstanceProfileTags is not implemented (NotImplemented).
Checked and left to moto, which gets them right: ListRoles honours PathPrefix;
CreateInstanceProfile(Tags=...) and GetInstanceProfile return the tags; Tag- and
UntagInstanceProfile change them.

Both handlers read moto's own IAM model and render with moto's serializer (`rendering`),
with moto's IAM transformers, so the answers match moto's other IAM answers.
"""

from __future__ import annotations

from typing import Any

from ssmlab.emulator.protocol import AwsError

MAX_ITEMS = 1000  # IAM API Reference, MaxItems: "Valid Range: Minimum value of 1. Maximum value of 1000."
DEFAULT_MAX_ITEMS = 100  # "If you do not include this parameter, the number of items defaults to 100."


def install(app: Any) -> None:
    app.router.register("iam", "ListInstanceProfiles", list_instance_profiles)
    app.router.register("iam", "ListInstanceProfileTags", list_instance_profile_tags)


def list_instance_profiles(request: Any) -> Any:
    """Only the profiles whose path starts with PathPrefix (default "/": all), a page at a
    time, without their tags."""
    from moto.core.serialize import never_return

    prefix = request.params.get("PathPrefix") or "/"
    profiles = [p for p in list(_backend(request).instance_profiles.values()) if p.path.startswith(prefix)]
    page, more = _page(request, profiles)
    return _render("ListInstanceProfiles", {"InstanceProfiles": page, **more},
                   {"ListInstanceProfilesResponse.InstanceProfiles.InstanceProfile.Tags": never_return})


def list_instance_profile_tags(request: Any) -> Any:
    """The profile's tags "sorted by tag key" (IAM API Reference, ListInstanceProfileTags),
    a page at a time; NoSuchEntity (404) for an unknown profile, as GetInstanceProfile."""
    name = request.params.get("InstanceProfileName") or ""
    profile = _backend(request).instance_profiles.get(name)
    if profile is None:
        # moto's wording for GetInstanceProfile, so both calls say the same.
        raise AwsError(404, "NoSuchEntity", f"Instance profile {name} not found")
    tags = sorted(({"Key": t["Key"], "Value": t.get("Value", "")} for t in profile.tags), key=lambda t: t["Key"])
    page, more = _page(request, tags)
    return _render("ListInstanceProfileTags", {"Tags": page, **more})


def _page(request: Any, items: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """IAM's Marker / MaxItems paging. The marker is the emulator's own (an offset, as
    moto's ListRoles uses); AWS's is opaque."""
    raw = request.params.get("MaxItems")
    try:
        size = int(raw) if raw not in (None, "") else DEFAULT_MAX_ITEMS
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_ITEMS:
        # IAM's validation message form (as AWS words a value outside a member's range).
        bound = f"less than or equal to {MAX_ITEMS}" if size > MAX_ITEMS else "greater than or equal to 1"
        raise AwsError(400, "ValidationError", f"1 validation error detected: Value '{raw}' at 'maxItems' "
                                               f"failed to satisfy constraint: Member must have value {bound}")
    marker = request.params.get("Marker")
    try:
        start = int(marker) if marker else 0
    except ValueError:
        start = -1
    if not 0 <= start <= len(items):
        raise AwsError(400, "ValidationError", f"Invalid Marker {marker!r}")
    end = start + size
    if end < len(items):
        return items[start:end], {"IsTruncated": True, "Marker": str(end)}
    return items[start:end], {"IsTruncated": False}


def _render(action: str, result: dict[str, Any], extra: dict[str, Any] | None = None) -> Any:
    from moto.iam.responses import IamResponse

    from ssmlab.emulator.rendering import render

    return render("iam", action, result, {**IamResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER, **(extra or {})})


def _backend(request: Any) -> Any:
    """moto keeps IAM per account and partition (aws, aws-cn, aws-us-gov)."""
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    return iam_backends[request.account_id][get_partition(request.region)]
