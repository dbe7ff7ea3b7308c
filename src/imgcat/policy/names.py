"""Names that look like a copy of another file: what `--prefer original-name` avoids keeping."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from typing import Final

# "IMG_1 copy.jpg", "IMG_1 copy 2.jpg", "IMG_1_copy.jpg", "Copy of IMG_1.jpg", "IMG_1 - Copy.jpg",
# "IMG_1 - Kopie.jpg", "Kopie von IMG_1.jpg", "IMG_1 - Copie.jpg", "IMG_1 (1).jpg", "IMG_1-1.jpg",
# "IMG_1 2.jpg" (macOS). Not "2019-07-04.jpg" (a date) nor "IMG_0001.jpg".
COPY_NAME: Final = re.compile(
    r"""(?ix)
    (?:^|[\s_.-])(?:copy|kopie|copie|copia)(?:[\s_.-]*\d+)?$   # ... copy, ... - Kopie, ..._copy 2
    | ^(?:copy|kopie|copie|copia)[\s_](?:of|von|de|di)[\s_]  # Copy of ..., Kopie von ...
    | \s\(\d{1,3}\)$                                         # ... (1)
    | (?<!\d{4}-\d{2})(?<=\D\d)-\d{1,2}$                     # IMG_1-1, never 2019-07-04
    | (?<=\d{4})-\d$                                         # IMG_1234-1
    | (?<=\S)\s\d{1,2}$                                      # IMG_1234 2 (macOS)
    """
)


_HINTS: Final = re.compile(r"[ -]|[ck]op", re.IGNORECASE)  # what every copy name above contains


def looks_like_copy(path: str) -> bool:
    """Whether the file name (without extension) reads like a copy of another file's name."""
    name = path[path.rfind("/") + 1 :]
    if _HINTS.search(name) is None:
        return False  # IMG_0001.JPG: the common case, decided by one quick look
    stem = posixpath.splitext(name)[0]
    return COPY_NAME.search(stem) is not None


# The copy markers that are also how originals are named ("Apple iPhone 6", "Holiday 2019 2",
# "Canon EOS 20D (2)", "IMG_1-1"): a copy only beside a file named without them.
_STRONG: Final = re.compile(
    r"""(?ix)
    (?:^|[\s_.-])(?:copy|kopie|copie|copia)(?:[\s_.-]*\d+)?$
    | ^(?:copy|kopie|copie|copia)[\s_](?:of|von|de|di)[\s_]
    """
)
_WEAK: Final = re.compile(
    r"""(?x)
    (?:\s\(\d{1,3}\) | (?<!\d{4}-\d{2})(?<=\D\d)-\d{1,2} | (?<=\d{4})-\d | (?<=\S)\s\d{1,2})$
    """
)


def copy_names(paths: Sequence[str]) -> frozenset[str]:
    """Which of one group's paths are named as copies of another: "X copy", "Copy of X", "X -
    Kopie" always; "X 2", "X (2)", "X-2" only when another path of the group is named X (an
    original may be called "Apple iPhone 6" or "Canon EOS 20D (2)")."""
    names = [path[path.rfind("/") + 1 :] for path in paths]
    if not any(_HINTS.search(name) for name in names):
        return frozenset()
    stems = [posixpath.splitext(name)[0] for name in names]
    plain = {stem.casefold() for stem in stems}
    copies = set()
    for path, name, stem in zip(paths, names, stems, strict=True):
        if _HINTS.search(name) is None:
            continue
        if _STRONG.search(stem):
            copies.add(path)
            continue
        weak = _WEAK.search(stem)
        if weak is not None and stem[: weak.start()].rstrip().casefold() in plain:
            copies.add(path)
    return frozenset(copies)
