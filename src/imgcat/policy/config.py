"""Named policies: tables of a TOML file, each a set of `dupes` options. Parsing only (pure); the
caller reads the file (`policies.toml` in the user config folder).

```toml
[policy.backup]            # imgcat dupes --policy backup
keep-copies = 2
distinct-devices = true
keep-in = ["/media/backup"]

[policy.downloads]
remove-from = ["~/Downloads"]
prefer = ["oldest"]
action = "trash"
```
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from typing import Any, Final

from imgcat.policy.rules import PolicyError


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """The options a named policy may set; None means "not set here"."""

    same_dir: bool | None = None
    keep_copies: int | None = None
    distinct_devices: bool | None = None
    keep_in: tuple[str, ...] | None = None
    remove_from: tuple[str, ...] | None = None
    prefer: tuple[str, ...] | None = None
    count_other_devices: bool | None = None
    under: tuple[str, ...] | None = None
    min_size: str | None = None
    kind: str | None = None
    action: str | None = None
    to: str | None = None

    def over(self, base: PolicySettings) -> PolicySettings:
        """These settings, falling back to `base` for the ones not set (options over a policy)."""
        given = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        return replace(base, **given)


_PATHS: Final = frozenset({"keep_in", "remove_from", "under", "to"})


def parse_policies(text: str, source: str = "policies.toml") -> dict[str, PolicySettings]:
    """Every `[policy.NAME]` table of the TOML text, checked: unknown keys and wrong types are
    errors naming the policy and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{source}: {error}") from error
    tables = data.get("policy", {})
    if not isinstance(tables, dict) or set(data) - {"policy", "junk"}:
        raise PolicyError(f"{source}: expected only [policy.NAME] and [junk] tables")
    return {name: _settings(name, table, source) for name, table in tables.items()}


def _settings(name: str, table: Any, source: str) -> PolicySettings:
    if not isinstance(table, dict):
        raise PolicyError(f"{source}: policy {name} is not a table")
    kinds = {f.name: f.type for f in fields(PolicySettings)}
    values: dict[str, object] = {}
    for key, value in table.items():
        attribute = key.replace("-", "_")
        if attribute not in kinds:
            raise PolicyError(f"{source}: policy {name}: unknown setting {key!r}")
        values[attribute] = _checked(name, key, attribute, value, str(kinds[attribute]), source)
    return PolicySettings(**values)  # type: ignore[arg-type]


def _checked(name: str, key: str, attribute: str, value: object, kind: str, source: str) -> object:
    wrong = PolicyError(f"{source}: policy {name}: {key} has the wrong type ({type(value).__name__})")
    if kind.startswith("bool"):
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if kind.startswith("tuple"):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise wrong
        return tuple(os.path.expanduser(i) if attribute in _PATHS else i for i in items)
    if isinstance(value, int) and not isinstance(value, bool) and attribute == "min_size":
        return str(value)
    if not isinstance(value, str):
        raise wrong
    return os.path.expanduser(value) if attribute in _PATHS else value
