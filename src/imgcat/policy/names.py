"""Names that look like a copy of another file: what `--prefer original-name` avoids keeping."""

from __future__ import annotations

import posixpath
import re
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
