"""Where moto's cost grows with everything it holds, or repeats work whose answer cannot change,
made to cost what a request touches (measured with moto 5.2.5).

- moto answers "the tags of this resource" (`TaggedEC2Resource.get_tags`, used by every tag
  filter and every EC2 response that shows tags) through `describe_tags` with a resource-id
  filter, which walks every tag of every resource in the region and matches each against a
  regular expression: every Describe* of one lab cost in proportion to all labs' tags, times
  the resources it looked at (an emulator holding 50 labs answered a notebook several times
  slower than an empty one). The resource's own entry of the same tag store is read instead;
  the answer is the same (`describe_tags`'s pattern for an id is `fnmatch.translate(id)`,
  which matches that id exactly, and its rows are built the same way).

Work moto repeats on every request although its answer cannot change while the process runs,
done once instead (about 2.5 ms of a 4 ms EC2 describe):

- Finding the backend for a request, moto's dispatcher asks whether the host is the name of
  one of moto's own packages, listing moto's folder and testing each entry with a stat, twice
  per request: ~1 ms each time. The installed package's folders are fixed: they are listed once.
- Before dispatching an action, moto collects the handler class's methods with
  `inspect.getmembers` to see whether the action is one of them. The emulator adds no method to
  a handler class after start-up, so each class is inspected once.

- Serialising an answer, moto asks six alias providers, for every attribute of every object, which
  names the attribute may have on the Python object (`XFormedAttributePicker.get_possible_keys`):
  a third of a small describe's time. The names depend only on the object's class (its class name
  and its class-level `Meta.serialization_aliases`), the model's shape and the key, all fixed while
  the process runs: they are worked out once per (class, shape, key).

Nothing a request sees changes: the same backend, the same handler, the same answer.
"""

from __future__ import annotations

import functools
from functools import lru_cache
from typing import Any


def _own_tags() -> None:
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


def _possible_keys() -> None:
    from moto.core.serialize import XFormedAttributePicker

    original = XFormedAttributePicker.get_possible_keys
    if getattr(original, "_ssmlab", False):
        return
    found: dict[tuple[type, int, str], tuple[Any, tuple[str, ...]]] = {}

    def get_possible_keys(self: Any, context: Any) -> tuple[str, ...]:
        key = (type(context.obj), id(context.shape), context.key)
        known = found.get(key)
        if known is not None and known[0] is context.shape:  # the same shape object, not a reused id
            return known[1]
        keys = tuple(original(self, context))
        if len(found) > 100_000:  # the models' shapes are cached by botocore: this is never reached in practice
            found.clear()
        found[key] = (context.shape, keys)
        return keys

    get_possible_keys._ssmlab = True  # type: ignore[attr-defined]
    get_possible_keys.__wrapped__ = original  # type: ignore[attr-defined]
    XFormedAttributePicker.get_possible_keys = get_possible_keys


def install() -> None:
    """Patch moto once per process (the emulator's only)."""
    _own_tags()
    _possible_keys()
    from moto import backends
    from moto.core import responses

    if getattr(backends.list_of_moto_modules, "_ssmlab_cached", False):
        return
    listed = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return listed

    list_of_moto_modules._ssmlab_cached = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules
    responses.method_names_from_class = _method_names(responses.method_names_from_class)


def _method_names(original: Any) -> Any:
    @lru_cache(maxsize=None)
    def method_names_from_class(clazz: type) -> frozenset[str]:
        return frozenset(original(clazz))

    return method_names_from_class
