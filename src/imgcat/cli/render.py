"""Drawing for people: consoles, tables, JSON. Only cli/ draws."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from imgcat import layout


def out() -> Console:
    """Standard output; rich honours NO_COLOR and drops colour when it is not a terminal."""
    return Console(highlight=False, soft_wrap=False)


def err() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def print_jsonl(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def human_bytes(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


camera_name = layout.camera_name
