"""Tags: how the kit marks what it creates, and how a reader tells a lab's resources. Pure."""

from __future__ import annotations

Tags = tuple[tuple[str, str], ...]
TAG_KEY = "ssmlab:lab"
"""Every resource the kit creates carries this tag; teardown deletes only what has it."""


def kit_tags(lab_name: str, role: str) -> list[dict[str, str]]:
    """The tags the kit puts on a resource of `lab_name` (another lab's too, in the session preferences' chain)."""
    return [{"Key": TAG_KEY, "Value": lab_name}, {"Key": "Name", "Value": f"{lab_name}-{role}"}]


def has_lab_tag(tags: Tags, lab: str) -> bool:
    """Whether these tags mark a resource of `lab` (the only thing teardown and status count)."""
    return (TAG_KEY, lab) in tags
