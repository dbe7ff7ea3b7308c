"""The `imgcat` command: one root app, one module per command, errors mapped in one place."""

from __future__ import annotations

import os
import sys
import traceback

import typer

from imgcat import __version__
from imgcat.cli import add, dupes, listing, options, reorganize, signals, stats, status, sync
from imgcat.errors import ImgcatError

app = typer.Typer(
    name="imgcat",
    help="Catalog every photo and video you have, on every disk, then clean up safely.",
    epilog="Example: imgcat add -r ~/Pictures",
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    add_completion=False,
)

app.command()(add.add)
app.command()(dupes.dupes)
app.command()(listing.ls)
app.command()(listing.types)
app.command()(reorganize.reorganize)
app.command()(stats.stats)
app.command()(sync.sync)


def _version(show: bool) -> None:
    if show:
        print(f"imgcat {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    es: options.Es = None,
    host: options.Host = None,
    port: options.Port = None,
    index: options.Index = None,
    es_ca_certs: options.CaCerts = None,
    db: options.Db = None,
    debug: options.Debug = False,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Catalog every photo and video you have, on every disk, then clean up safely.

    Without a command, shows where the catalog is and what it holds.
    """
    store = options.StoreOptions(es, host, port, index, es_ca_certs, db)
    ctx.obj = store
    if ctx.invoked_subcommand is None:
        status.show(store)


def main(argv: list[str] | None = None) -> int:
    """Run imgcat; every error becomes one `error: ...` line on stderr and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("IMGCAT_DEBUG") == "1"
    try:
        with signals.as_interrupts():
            app(args=args, prog_name="imgcat")
    except SystemExit as done:  # Typer ends every run, usage errors and Ctrl-C included, this way
        return done.code if isinstance(done.code, int) else int(done.code is not None)
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except ImgcatError as error:
        if debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    return 0
