"""What never reaches a person raw, whatever shows a name from the disk: the terminal
(`cli/render.safe`), an HTML page (`cli/htmlreport`), a shell script (`actions/script`).

Control characters (ESC, newline, tab, DEL, the C1 range) could move the cursor, clear the screen
or start a line of their own; Unicode's line separators and bidirectional marks and overrides could
reverse the text that follows; surrogates stand for the bytes of a name that is not UTF-8
(`os.fsdecode`'s surrogateescape).
"""

from __future__ import annotations

import re
from typing import Final

NEVER_RAW: Final = "\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
"""The characters, as the body of a regular expression's character class."""

HAS_NEVER_RAW: Final = re.compile(f"[{NEVER_RAW}]")
