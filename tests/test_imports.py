"""A command loads only what it needs: the Elasticsearch client only for the Elasticsearch store,
Pillow, numpy and the media readers only when a file is read, rich only to draw on a terminal.
Checked in a fresh process, where `sys.modules` shows what a run has loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from media import copy_media

HEAVY = (
    "elasticsearch", "elastic_transport", "PIL", "numpy", "imagehash", "pymediainfo", "pillow_heif",
    "pydantic",  # typer 0.29 parses every option through it (0.2 s): pinned below 0.29
    "rich",  # draws on a terminal only: in a pipe, with -q and for --help nothing loads it
)  # fmt: skip

# Runs each command in one fresh interpreter, printing after each the heavy packages loaded so far.
_PROBE = """
import json, sys
from imgcat.cli.app import main

def loaded():
    return sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY))

print(json.dumps(["import imgcat.cli.app", loaded()]), file=sys.stderr)
for args in json.loads(sys.argv[1]):
    main(args)
    print(json.dumps([" ".join(args), loaded()]), file=sys.stderr)
"""


def loaded_after_each(*commands: list[str]) -> list[tuple[str, list[str]]]:
    probe = f"HEAVY = {HEAVY!r}\n{_PROBE}"
    run = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(commands)], capture_output=True, text=True, check=True
    )
    steps = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("[")]
    return [(str(step), list(loaded)) for step, loaded in steps]


def test_commands_that_read_no_file_load_neither_elasticsearch_nor_the_media_readers(tmp_path: Path) -> None:
    photos = copy_media(tmp_path / "photos", "iphone_6", "misc_png")
    db = str(tmp_path / "c.sqlite")
    catalog = SqliteCatalog(Path(db))
    add_folder(catalog, str(photos), device="d", recursive=True, workers=0)
    catalog.close()
    store = ["--db", db]
    steps = loaded_after_each(
        ["--version"],
        ["--help"],
        ["add", "--recursiv"],  # a usage error
        [*store],  # where the catalog is and what it holds
        ["stats", *store],
        ["ls", "--catalog", "-r", str(photos), "--device", "d", *store],
        ["add", "-r", str(photos), "--device", "d", "-q", *store],  # unchanged: nothing to read
        ["sync", str(photos), "--device", "d", "-q", *store],
        ["ls", str(photos)],  # reads the files: the readers load here, and only here
    )
    assert [loaded for _, loaded in steps[:-1]] == [[]] * (len(steps) - 1), steps
    assert {"PIL", "numpy"} <= set(steps[-1][1])  # pHashes come from scipy's DCT, not imagehash
    assert "elasticsearch" not in steps[-1][1]


_COMMAND_MODULES = """
import json, sys
from imgcat.cli.app import main

for args in json.loads(sys.argv[1]):
    main(args)
    ours = ("imgcat.cli.", "imgcat.operations", "imgcat.catalog")
    mine = sorted(m for m in sys.modules if m.startswith(ours))
    print(json.dumps([" ".join(args), mine]), file=sys.stderr)
"""


def test_a_command_loads_its_own_module_only() -> None:
    """`--version`, the root --help and a usage error load no command's module and no store;
    a command loads its own module, not the others' (imgcat at 1,000,000 files: start-up is paid
    by every command)."""
    commands = [["--version"], ["--help"], ["add", "--recursiv"]]
    run = subprocess.run(
        [sys.executable, "-c", _COMMAND_MODULES, json.dumps(commands)],
        capture_output=True,
        text=True,
        check=True,
    )
    steps = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("[")]
    shared = ["imgcat.cli.app", "imgcat.cli.options", "imgcat.cli.render", "imgcat.cli.signals"]
    assert steps[0] == ["--version", shared]
    assert steps[1] == ["--help", shared]
    assert steps[2][0] == "add --recursiv" and "imgcat.cli.add" in steps[2][1]
    assert not {"imgcat.cli.dupes", "imgcat.cli.similar", "imgcat.cli.reorganize"} & set(steps[2][1])


def test_listing_the_catalog_loads_neither_add_nor_a_process_pool(tmp_path: Path) -> None:
    """`ls --catalog` (a folder's 500 entries in well under a second) starts without what `add`
    and reading files need: no `add` operation, no process pool (multiprocessing, ctypes)."""
    photos = copy_media(tmp_path / "photos", "misc_png")
    db = str(tmp_path / "c.sqlite")
    catalog = SqliteCatalog(Path(db))
    add_folder(catalog, str(photos), device="d", recursive=True, workers=0)
    catalog.close()
    probe = (
        "import json, sys\nfrom imgcat.cli.app import main\nmain(json.loads(sys.argv[1]))\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    args = ["ls", "--catalog", "-r", str(photos), "--device", "d", "--db", db]
    run = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(args)], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(run.stderr.splitlines()[-1]))
    assert "misc_png" in run.stdout
    assert not {"imgcat.operations.add", "imgcat.cli.add", "multiprocessing", "ctypes", "rich"} & loaded
