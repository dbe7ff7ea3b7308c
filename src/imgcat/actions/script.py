"""A plan as a shell script to review and run by hand (as rmlint writes one): the same steps, each
guarded by a byte-for-byte `cmp` with the kept copy right before the file is touched."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Iterator
from typing import Final

from imgcat.actions.plan import Step
from imgcat.actions.trash import TrashFolders, trash_path
from imgcat.text import HAS_NEVER_RAW

FUNCTIONS: Final = r"""set -u

# same FILE KEPT: both are regular files (not links) with the same bytes
same() { [ -f "$1" ] && [ ! -L "$1" ] && [ -f "$2" ] && [ ! -L "$2" ] && cmp -s -- "$1" "$2"; }
left() { printf 'left alone: %s\n' "$1" >&2; }
put() {  # put FILE PLACE: move FILE to PLACE, never over a file there
    [ ! -e "$2" ] && [ ! -L "$2" ] && mkdir -p -- "$(dirname -- "$2")" && mv -n -- "$1" "$2" && [ ! -e "$1" ]
}
trash() { same "$1" "$2" && put "$1" "$3" || left "$1"; }
move_to() { same "$1" "$2" && put "$1" "$3" || left "$1"; }
delete() { same "$1" "$2" && rm -f -- "$1" || left "$1"; }
linked() { mv -f -- "$1.imgcat-link" "$1"; }
hardlink() { same "$1" "$2" && ln -f -- "$2" "$1.imgcat-link" && linked "$1" || left "$1"; }
symlink() { same "$1" "$2" && ln -sf -- "$2" "$1.imgcat-link" && linked "$1" || left "$1"; }
"""


def shell_script(steps: Iterable[Step], *, title: str, stamp: str, trash: TrashFolders) -> Iterator[str]:
    """The lines of a POSIX shell script doing `steps` (which must each have a kept copy to compare
    with). Trashed files go to `.imgcat-trash/script-<stamp>/` on their own filesystem."""
    yield "#!/bin/sh"
    yield f"# {_comment(title)}"
    yield "# Written by imgcat. Review it, then run it with: sh THIS-FILE"
    yield "# Each file is compared byte for byte with the copy that is kept right before it is touched;"
    yield "# one that changed, or whose kept copy is gone or differs, is left alone and named on stderr."
    yield "# imgcat's catalog and journal know nothing of what this script does: run 'imgcat sync'"
    yield "# afterwards. ('imgcat dupes --apply' does the same, keeps the catalog right, and can be undone.)"
    yield FUNCTIONS
    for step in steps:
        if not step.references:
            raise ValueError(f"a script step needs a kept copy to compare with: {step.source}")
        words = [step.source, step.references[0]]
        if step.kind == "trash":
            words.append(
                trash_path(trash.root_for(step.source, create=False), f"script-{stamp}", step.source)
            )
        elif step.kind == "move-to" and step.target is not None:
            words.append(step.target)
        command = {"move-to": "move_to"}.get(step.kind, step.kind)
        if step.note:
            yield f"# {_comment(step.note)}"
        quoted = []
        for number, word in enumerate(words, 1):
            if HAS_NEVER_RAW.search(word) is None:
                quoted.append(shlex.quote(word))
            else:
                yield f"w{number}=$(printf '{_octal(word)}X'); w{number}=${{w{number}%X}}"
                quoted.append(f'"$w{number}"')
        yield " ".join([command, *quoted])


def _octal(word: str) -> str:
    """`word` as a printf format writing it: control characters, the bytes of a name that is not
    UTF-8 (and `\\`, `%`, `'`) as octal escapes, so that the script shows nothing raw (`cat` of it
    cannot clear a screen) and every byte of the name comes out as it is on the disk."""
    out = []
    for char in word:
        if HAS_NEVER_RAW.match(char) is None and char not in "\\%'":
            out.append(char)
        else:
            out.extend(f"\\{byte:03o}" for byte in os.fsencode(char))
    return "".join(out)


def _comment(text: str) -> str:
    return HAS_NEVER_RAW.sub("?", " ".join(text.split()))
