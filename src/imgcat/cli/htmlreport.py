"""One self-contained HTML page of picture groups, for a person to look at before acting.

Any command that groups pictures feeds it `ReportGroup`s (`similar` today, `junk` later): each
group side by side, the kept picture marked, the reasons shown. Thumbnails are inline JPEG data
URLs and the page loads nothing else (no script, font, style sheet or image from anywhere), so it
works offline and can be mailed as one file. The page says how many groups and pictures it holds
(`data-groups`, `data-pictures` on <body>) so a browser test can check that all of them loaded.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from imgcat.cli.render import safe
from imgcat.errors import ImgcatError

PREVIEW_SIDE = 240


@dataclass(frozen=True, slots=True)
class ReportItem:
    path: str
    keep: bool
    lines: tuple[str, ...]  # facts shown under the picture (size, pixels, ...)
    reason: str


@dataclass(frozen=True, slots=True)
class ReportGroup:
    id: str
    title: str
    items: tuple[ReportItem, ...]


_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin: 0 0 .5em; }
section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 1em; margin: 0 0 1.2em; }
.row { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; width: 260px; padding: 8px; border: 3px solid #ddd; border-radius: 6px; }
figure.keep { border-color: #2a8a2a; background: #f1faf1; }
figure img { display: block; max-width: 240px; max-height: 240px; margin: 0 auto 6px; }
.none { width: 240px; height: 120px; display: flex; align-items: center; justify-content: center;
        background: #eee; color: #888; margin-bottom: 6px; }
.verdict { font-weight: 600; } .keep .verdict { color: #2a8a2a; } .path { word-break: break-all; }
.reason, .facts { color: #555; font-size: 12px; }
"""


def write_report(
    target: Path,
    title: str,
    summary: str,
    groups: Sequence[ReportGroup],
    preview: Callable[[str], bytes | None],
) -> None:
    """Write the page to `target`. `preview(path)` gives a small JPEG of a picture, or None."""
    pictures = sum(len(g.items) for g in groups)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # No request may leave the page: only inline styles and data: images are allowed.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>",
        f'<body data-groups="{len(groups)}" data-pictures="{pictures}">',
        f"<h1>{html.escape(title)}</h1><p>{_text(summary)}</p>",
    ]
    for group in groups:
        parts.append(
            f'<section class="group" id="group-{html.escape(group.id)}" data-group="{html.escape(group.id)}">'
        )
        parts.append(f'<h2>{_text(group.title)}</h2><div class="row">')
        parts.extend(_figure(item, preview(item.path)) for item in group.items)
        parts.append("</div></section>")
    parts.append("</body></html>")
    try:
        target.write_text("\n".join(parts), encoding="utf-8")
    except OSError as error:
        raise ImgcatError(f"cannot write {target}: {error.strerror or error}") from error


def _text(text: str) -> str:
    """Text from the disk for the page: control characters and the bytes of a name that is not
    UTF-8 shown as escapes, as on the terminal (`render.safe`), then HTML-escaped."""
    return html.escape(safe(text))


def _figure(item: ReportItem, jpeg: bytes | None) -> str:
    name = _text(item.path)
    if jpeg is None:
        picture = '<div class="none">no preview</div>'
    else:
        data = base64.b64encode(jpeg).decode("ascii")
        picture = f'<img class="thumb" alt="{name}" src="data:image/jpeg;base64,{data}">'
    verdict = "keep" if item.keep else "remove"
    facts = "".join(f'<div class="facts">{_text(line)}</div>' for line in item.lines)
    return (
        f'<figure class="{verdict}">{picture}<div class="verdict">{verdict}</div>'
        f'<div class="path">{name}</div>{facts}<div class="reason">{_text(item.reason)}</div></figure>'
    )
