"""The embedded AWS emulator: moto's server plus ssmlab's extensions, in its own process.

Importing this package is cheap (no moto, flask or boto3): moto is imported only in the
emulator process itself.
"""

from .process import client_environ, endpoint_url, start, status, stop
from .server import serve
from .state import EmulatorStatus

__all__ = ["EmulatorStatus", "client_environ", "endpoint_url", "serve", "start", "status", "stop"]
