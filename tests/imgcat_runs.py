"""Run several imgcat command lines in one process and print what each gave, as JSON.

For tests that need a real process (one without root's capabilities, under setpriv) but not one
per command: `python tests/imgcat_runs.py '[["stats", "--json"], ["add", "DIR"]]'` prints
`[{"code": 0, "out": "...", "err": "..."}, ...]`.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

from imgcat.cli.app import main


def run_all(command_lines: list[list[str]]) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    for args in command_lines:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
        results.append({"code": code, "out": out.getvalue(), "err": err.getvalue()})
    return results


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run_all(json.loads(sys.argv[1]))) + "\n")
