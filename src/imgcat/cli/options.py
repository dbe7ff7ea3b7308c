"""Options every command takes: where the catalog lives, and how to talk to the user.

The original tool put its store options after the command name (`add DIR --host H --port P`), so
every command accepts them; given before the command they apply too (`imgcat --es URL stats`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from imgcat import settings

if TYPE_CHECKING:  # the stores load when a command opens one, not for --help or a usage error
    from imgcat.catalog import Catalog, StoreTarget

STORE_PANEL = "Catalog store"

Es = Annotated[
    str | None,
    typer.Option("--es", help="Elasticsearch URL, e.g. http://localhost:9200 (env IMGCAT_ES_URL)",
                 rich_help_panel=STORE_PANEL, show_default=False, metavar="URL"),
]  # fmt: skip
Host = Annotated[
    str | None,
    typer.Option("--host", help="Elasticsearch host (original usage; port 9200 unless --port).",
                 rich_help_panel=STORE_PANEL, metavar="HOST"),
]  # fmt: skip
Port = Annotated[
    int | None,
    typer.Option(
        "--port", help="Elasticsearch port (original usage).", rich_help_panel=STORE_PANEL, metavar="PORT"
    ),
]
Index = Annotated[
    str | None,
    typer.Option(
        "--index", help="Elasticsearch index. (default: catalog)", rich_help_panel=STORE_PANEL, metavar="NAME"
    ),
]
CaCerts = Annotated[
    Path | None,
    typer.Option("--es-ca-certs", help=settings.ES_CA_CERTS.help, rich_help_panel=STORE_PANEL,
                 exists=True, dir_okay=False, metavar="FILE"),
]  # fmt: skip
Db = Annotated[
    Path | None,
    typer.Option(
        "--db", help=f"{settings.DB.help} (env IMGCAT_DB)", rich_help_panel=STORE_PANEL, metavar="FILE"
    ),
]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors (env IMGCAT_DEBUG=1).")]
# here, not in cli/add.py: `ls` takes it too, without loading what `add` runs
Recursive = Annotated[bool, typer.Option("--recursive", "-r", help="Also every subfolder, and theirs.")]

# Options of the commands that read files; `settings.device_name` and `settings.worker_count` give
# their defaults, for every command alike.
Device = Annotated[
    str | None,
    typer.Option("--device", help="Name of this disk or machine in the catalog (default: host name; "
                 "name removable disks).", envvar=settings.DEVICE.env, show_envvar=False, metavar="NAME"),
]  # fmt: skip
Workers = Annotated[
    int | None,
    typer.Option("--workers", help="Processes for reading files (default: all cores; 0 = serial).",
                 envvar=settings.WORKERS.env, show_envvar=False, min=0, metavar="N"),
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class StoreOptions:
    es: str | None = None
    host: str | None = None
    port: int | None = None
    index: str | None = None
    es_ca_certs: Path | None = None
    db: Path | None = None

    def over(self, base: StoreOptions) -> StoreOptions:
        """These options, falling back to `base` (the ones given before the command)."""
        given = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        return replace(base, **given)

    def target(self) -> StoreTarget:
        from imgcat.catalog import store_target

        return store_target(
            es=self.es, host=self.host, port=self.port, index=self.index,
            ca_certs=self.es_ca_certs, db=self.db,
        )  # fmt: skip


_STORE_PARAMS = (
    ("es", Es), ("host", Host), ("port", Port), ("index", Index), ("es_ca_certs", CaCerts), ("db", Db),
)  # fmt: skip

F = TypeVar("F", bound=Callable[..., Any])


def takes_store(command: F) -> F:
    """Add the store options to a command; it receives them merged as `store: StoreOptions`."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "store"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
        for name, kind in _STORE_PARAMS
    ]
    added.append(inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Debug))
    added.append(inspect.Parameter("_ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context))

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("debug")
        root = kwargs.pop("_ctx").find_object(StoreOptions) or StoreOptions()
        given = StoreOptions(**{name: kwargs.pop(name) for name, _ in _STORE_PARAMS})
        return command(*args, store=given.over(root), **kwargs)

    parameters = own + added
    wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper  # type: ignore[return-value]


@contextmanager
def opened(store: StoreOptions, *, create: bool = False) -> Iterator[Catalog]:
    from imgcat.catalog import open_catalog

    catalog = open_catalog(store.target(), create=create)
    try:
        yield catalog
    finally:
        catalog.close()


def has_command(name: str) -> bool:
    """Whether `imgcat` has this command (a hint never points to one that is missing)."""
    from imgcat.cli.app import COMMANDS  # late: no import cycle

    return name in COMMANDS
