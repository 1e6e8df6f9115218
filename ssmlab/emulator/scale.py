"""Where moto's cost grows with everything it holds, made to grow with what a request touches.

moto 5.2.5 answers "the tags of this resource" (`TaggedEC2Resource.get_tags`, used by every
tag filter and by every EC2 response that shows tags) through `describe_tags` with a
resource-id filter, which walks every tag of every resource in the region and matches each
against a regular expression. Every Describe* of one lab's resources then costs in
proportion to all labs' tags, times the resources it looks at: an emulator holding 50
labs answered a learner's notebook several times slower than an empty one (issue 14).

The fix reads the resource's own entry of the same tag store. The answer is the same:
`describe_tags`'s pattern for an id is `fnmatch.translate(id)`, which matches that id
exactly (ids hold no wildcard characters), and its result rows are built the same way.

Two more costs moto pays on every request whatever it holds, each answered from a cache of
what cannot change while the process runs: the list of its own service packages (a
directory listing and a stat per package, to route each request) and the method names of a
response class (`inspect.getmembers`, to find the action's handler).
"""

from __future__ import annotations

import functools
from typing import Any


def install() -> None:
    """Patch moto once per process (the emulator's only): tags, its package list, handler names."""
    _per_request_caches()
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    original = TaggedEC2Resource.get_tags
    if getattr(original, "_ssmlab", False):
        return

    @functools.wraps(original)
    def get_tags(self: Any) -> list[dict[str, str]]:
        resource_id = getattr(self, "id", None)
        if not resource_id:
            return []
        own = self.ec2_backend.tags.get(resource_id)  # a defaultdict: .get never adds an entry
        if not own:
            return []
        resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
        return [{"resource_id": resource_id, "key": key, "value": value, "resource_type": resource_type}
                for key, value in list(own.items())]

    get_tags._ssmlab = True  # type: ignore[attr-defined]
    TaggedEC2Resource.get_tags = get_tags


def _per_request_caches() -> None:
    from moto import backends
    from moto.core import responses

    if not getattr(backends.list_of_moto_modules, "_ssmlab", False):
        modules = tuple(backends.list_of_moto_modules())  # moto's own folders: fixed once installed
        listed = functools.wraps(backends.list_of_moto_modules)(lambda: modules)
        listed._ssmlab = True  # type: ignore[attr-defined]
        backends.list_of_moto_modules = listed
    if not getattr(responses.method_names_from_class, "_ssmlab", False):
        names = functools.cache(responses.method_names_from_class)  # a class's methods are fixed
        names._ssmlab = True  # type: ignore[attr-defined]
        responses.method_names_from_class = names
