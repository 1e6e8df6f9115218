"""Work moto repeats on every request although its answer cannot change while the process runs,
done once instead (measured with moto 5.2.5: about 2.5 ms of a 4 ms EC2 describe).

- Finding the backend for a request, moto's dispatcher asks whether the host is the name of
  one of moto's own packages, listing moto's folder and testing each entry with a stat, twice
  per request: ~1 ms each time. The installed package's folders are fixed: they are listed once.
- Before dispatching an action, moto collects the handler class's methods with
  `inspect.getmembers` to see whether the action is one of them. The emulator adds no method to
  a handler class after start-up, so each class is inspected once.

Nothing a request sees changes: the same backend, the same handler, the same answer.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


def install() -> None:
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
