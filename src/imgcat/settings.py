"""Every setting imgcat reads from the environment, declared once with its default and help."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Setting:
    env: str
    default: str | None
    help: str

    def read(self) -> str | None:
        return os.environ.get(self.env) or self.default


DB: Final = Setting(
    "IMGCAT_DB", None, "SQLite catalog file (default: catalog.sqlite in the user data folder)."
)
ES_URL: Final = Setting("IMGCAT_ES_URL", None, "Elasticsearch URL; selects the Elasticsearch store.")
ES_USER: Final = Setting("IMGCAT_ES_USER", None, "Elasticsearch user name (basic auth).")
ES_PASSWORD: Final = Setting("IMGCAT_ES_PASSWORD", None, "Elasticsearch password (basic auth).")
ES_API_KEY: Final = Setting("IMGCAT_ES_API_KEY", None, "Elasticsearch API key (instead of user/password).")
ES_CA_CERTS: Final = Setting("IMGCAT_ES_CA_CERTS", None, "CA bundle that signed the cluster's certificate.")
DEVICE: Final = Setting("IMGCAT_DEVICE", None, "Device name recorded with each file (default: host name).")
WORKERS: Final = Setting(
    "IMGCAT_WORKERS", None, "Processes for decoding and hashing (default: all cores; 0 = serial)."
)
DEBUG: Final = Setting("IMGCAT_DEBUG", None, "Set to 1 to show tracebacks, as --debug does.")

SETTINGS: Final = (DB, ES_URL, ES_USER, ES_PASSWORD, ES_API_KEY, ES_CA_CERTS, DEVICE, WORKERS, DEBUG)


def device_name(given: str | None = None) -> str:
    """The device recorded with each file: the name given (`--device`, IMGCAT_DEVICE), else the host's."""
    named = given or DEVICE.read()
    if named:
        return named
    import socket  # loaded when the host's name is the device, not with --device

    return socket.gethostname()


def worker_count(given: int | None = None) -> int:
    """Processes that read files: as given (`--workers`, IMGCAT_WORKERS; 0 = serial), else one per core."""
    if given is not None:
        return given
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
