"""Output for people and for pipes: every table, line, warning and JSON document a command prints.

Only cli/ draws, and it draws through this module, so that every command behaves the same on a
terminal and in a pipe. A command builds a `Table` and hands it to `show`:

    table = render.Table(
        render.Column("captured"),
        render.Column("size", right=True),
        render.Column("camera", max_width=20),
        render.Column("file", fold=True),
        title=root,
    )
    render.show(table, ((when, render.human_bytes(r.size), r.camera, r.path) for r in records))

- On a terminal (stdout is a TTY) it is a rich table: title, header, columns fitted to the width,
  `fold=True` columns folded over lines, `max_width` columns cut with "…", a `group=True` column
  shown only where its value changes, with a rule between groups, an `optional=True` column left
  out when all its values are the same.
- Anywhere else (a pipe, a file) it is one line per row, the cells separated by a tab: nothing
  wrapped, nothing cut, no title, no header, no box. `imgcat ls -r DIR | grep NAME` finds every
  file; `cut -f2` picks a column; the rows of an iterable are printed as they come.

Other rich drawings (reorganize's tree) go to the terminal through `draw`, their text made `safe`;
in a pipe a command prints the same facts as a `Table` instead. Lines of words go through `line`
(standard output), `note` and `warning` (standard error); `error` is main's alone. Each prints
exactly one line: a newline inside the text is shown as `\\n`, so a blank line is `line()`.
A plan's JSON is built by one function of its own (`sync_plan_json`, reorganize's `plan_json`),
never field by field where it is printed, and printed here by `print_json`.

Text that may come from the disk (file and folder names, camera names, messages naming a file)
never reaches the terminal raw: `safe` shows control characters as escapes (`\\x1b`, `\\n`, `\\t`),
the bytes of a name that is not UTF-8 as `\\xNN` (and a backslash as `\\\\`, so that a name
literally spelled `\\xff` never reads as the byte), and Unicode's line separators and
bidirectional overrides as `\\u2028`. Tables, `line`, `warning` and `error` apply it to everything they print;
JSON (`print_json`, `print_jsonl`) escapes as JSON does.

Words for people: `count(2, "file")` is "2 files", `count(1, "copy", "copies")` "1 copy";
`human_bytes(1_500_000)` is "1.5 MB".
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Final, TextIO

if TYPE_CHECKING:  # rich loads when a terminal is drawn on, not for a pipe, an error or --version
    from rich.console import Console, RenderableType

from imgcat.text import NEVER_RAW

_UNSAFE: Final = re.compile(f"[\\\\{NEVER_RAW}]")
# A backslash is doubled, so that what `safe` shows reads back one way only: a name with the byte
# 0xFF shows as `n_\xff.jpg`, one literally spelled so as `n_\\xff.jpg` (as `ls -b` does).
_NAMED: Final = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\"}


def safe(text: object) -> str:
    """`text` as it may be shown on a terminal: nothing in it can move the cursor, clear the screen,
    start a new line or reverse the text that follows."""
    shown = str(text)
    return _UNSAFE.sub(_escape, shown) if _UNSAFE.search(shown) else shown


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a name that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def is_terminal() -> bool:
    """Whether standard output is a terminal (tables are drawn) or a pipe or file (plain rows)."""
    return sys.stdout.isatty()


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a `Table`; the options shape the terminal's drawing only."""

    header: str
    right: bool = False  # numbers: aligned right
    fold: bool = False  # long values (paths) folded over lines; other columns stay on one line
    max_width: int | None = None  # longer values end in "…" on a terminal (never in a pipe)
    group: bool = False  # shown only where it changes, with a rule between groups
    optional: bool = False  # left out when every row holds the same value (kept in a pipe)


class Table:
    """Rows under named columns. Cells are strings, numbers or None (shown empty)."""

    def __init__(self, *columns: Column | str, title: str | None = None, header: bool = True) -> None:
        self.columns = tuple(c if isinstance(c, Column) else Column(c) for c in columns)
        self.title = title
        self.header = header
        self.rows: list[tuple[str, ...]] = []

    def row(self, *cells: object) -> None:
        self.rows.append(_cells(cells, len(self.columns)))


def _cells(cells: Sequence[object], width: int) -> tuple[str, ...]:
    if len(cells) != width:
        raise ValueError(f"a row of {len(cells)} cells in a table of {width} columns")
    return tuple("" if cell is None else safe(cell) for cell in cells)


def show(table: Table, rows: Iterable[Sequence[object]] = ()) -> None:
    """Print `table` with its rows, then `rows`: a rich table on a terminal, tab-separated lines
    elsewhere (where `rows` are printed as they come, so a long listing streams)."""
    width = len(table.columns)
    if not is_terminal():
        write = sys.stdout.write
        for cells in table.rows:
            write("\t".join(cells) + "\n")
        for raw in rows:
            write("\t".join(_cells(raw, width)) + "\n")
        return
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    every = [*table.rows, *(_cells(raw, width) for raw in rows)]
    kept = [
        i for i, column in enumerate(table.columns)
        if not column.optional or len({cells[i] for cells in every}) > 1
    ]  # fmt: skip
    columns = [table.columns[i] for i in kept]
    every = [tuple(cells[i] for i in kept) for cells in every]
    drawn = RichTable(
        title=table.title and safe(table.title),
        title_justify="left",
        show_header=table.header,
        box=box.SIMPLE_HEAD,
    )
    for column in columns:
        drawn.add_column(
            column.header,
            justify="right" if column.right else "left",
            no_wrap=not column.fold,
            overflow="fold" if column.fold else "ellipsis",
            max_width=column.max_width,
        )
    grouped = [i for i, column in enumerate(columns) if column.group]
    for index, cells in enumerate(every):
        following = every[index + 1] if index + 1 < len(every) else None
        earlier = every[index - 1] if index else None
        shown = [
            "" if i in grouped and earlier is not None and earlier[i] == cell else cell
            for i, cell in enumerate(cells)
        ]
        last_of_group = (
            bool(grouped) and following is not None and any(following[i] != cells[i] for i in grouped)
        )
        drawn.add_row(*(Text(cell) for cell in shown), end_section=last_of_group)
    _console().print(drawn)


def draw(drawing: RenderableType) -> None:
    """A rich drawing other than a table (a tree) on the terminal; its text must be made `safe`."""
    _console().print(drawing)


def line(text: str = "") -> None:
    """One line on standard output, made safe."""
    sys.stdout.write(safe(text) + "\n")


def warning(path: str, reason: str) -> None:
    """`warning: PATH: REASON` on standard error, made safe (a progress bar stays below it)."""
    sys.stderr.write(f"warning: {safe(path)}: {safe(reason)}\n")


def error(message: str, hint: str | None = None) -> None:
    """`error: MESSAGE` on standard error, and at most one line of hint."""
    sys.stderr.write(f"error: {safe(message)}\n" + (f"{safe(hint)}\n" if hint else ""))


def note(message: str) -> None:
    """A line for the user on standard error (not part of the command's output)."""
    sys.stderr.write(safe(message) + "\n")


def _json(data: Any, indent: int | None = None) -> str:
    """`data` as JSON text that holds no byte of a name that is not UTF-8 (a path a command did
    not give through `path_to_text` or `path_json` shows each such byte as `\\xNN`, as on a terminal)."""
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    if _SURROGATE.search(text) is None:
        return text
    return json.dumps(_without_surrogates(data), ensure_ascii=False, indent=indent)


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _without_surrogates(data: Any) -> Any:
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if isinstance(data, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_without_surrogates(item) for item in data]
    return data


def print_json(data: Any) -> None:
    sys.stdout.write(_json(data, indent=2) + "\n")


def print_json_array(items: Iterable[Any]) -> None:
    """A JSON array written item by item, as `print_json` would write the whole list: memory stays
    flat however many items come (`ls --catalog -r --json` of a whole catalog)."""
    write = sys.stdout.write
    opening = "[\n  "
    for item in items:
        write(opening + _json(item, indent=2).replace("\n", "\n  "))
        opening = ",\n  "
    write("[]\n" if opening == "[\n  " else "\n]\n")


def print_jsonl(data: Any) -> None:
    text = _JSON_LINE.encode(data)
    if _SURROGATE.search(text) is not None:
        text = _JSON_LINE.encode(_without_surrogates(data))
    sys.stdout.write(text + "\n")


def print_jsonl_many(items: Iterable[Any]) -> None:
    """One JSON line per item, as `print_jsonl` prints each, written a few hundred lines at a
    time (`ls --catalog -r --jsonl` of a million entries): one UTF-8 encoding and one write per
    chunk, and the search for the bytes of a name that is not UTF-8 only in a chunk that holds
    one (its encoding fails), not in every line."""
    encode = _line_encoder()
    out = sys.stdout
    utf8 = (getattr(out, "encoding", None) or "").lower().replace("-", "") == "utf8"
    binary: BinaryIO | None = getattr(out, "buffer", None) if utf8 else None
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == _JSONL_CHUNK:
            _write_jsonl(chunk, encode, out, binary)
            chunk = []
    if chunk:
        _write_jsonl(chunk, encode, out, binary)


def _write_jsonl(
    chunk: list[Any], encode: Callable[[Any], str], out: TextIO, binary: BinaryIO | None
) -> None:
    text = "\n".join(map(encode, chunk)) + "\n"
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a surrogate: some line holds a byte of a name that is not UTF-8
        for item in chunk:
            print_jsonl(item)
        return
    if binary is None:
        out.write(text)
    else:
        out.flush()  # whatever was written as text before goes first
        binary.write(data)


def _line_encoder() -> Callable[[Any], str]:
    """`_JSON_LINE.encode`, the same text, without making json's C encoder again for every line
    as its one-shot path does (a tenth of the time spent encoding a catalog entry)."""
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without json's C speedups
        return _JSON_LINE.encode
    line = _JSON_LINE
    chunks = make(
        None, line.default, encoder.encode_basestring, None, line.key_separator,
        line.item_separator, line.sort_keys, line.skipkeys, line.allow_nan,
    )  # fmt: skip
    join = "".join
    return lambda item: join(chunks(item, 0))


_JSONL_CHUNK: Final = 256
_JSON_LINE: Final = json.JSONEncoder(ensure_ascii=False, check_circular=False)  # one, for a million lines


def _console() -> Console:
    """Standard output; rich honours NO_COLOR and the terminal's width."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def count(number: int, noun: str, plural: str | None = None) -> str:
    """`1 file`, `2 files`, `0 files`; `count(3, "copy", "copies")` for the irregular ones."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def human_bytes(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
