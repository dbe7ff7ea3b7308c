"""The files that make one photo together: Live Photo halves, RAW+JPEG twins, edited versions, sidecars.

`dupes` and `reorganize` move and remove companions together, so a wrong link becomes a wrong move.
Every pair therefore needs more than a shared name:
- a Live Photo's still and video carry the same Apple content identifier; where one half carries
  none, they share a name *and* were captured within LIVE_SECONDS of each other;
- a RAW and its camera JPEG share a name and were shot within TWIN_SECONDS (a JPEG written by a
  RAW developer such as Lightroom or darktable is an export, a picture of its own);
- an edited version is named as Apple (`IMG_E1234.JPG` for `IMG_1234.HEIC`) or Google Takeout
  (`IMG_1234-edited.jpg`) name them, and was captured at the same moment as its original where
  both times are known.
Capture times count only when read from the files (EXIF, the video's own date, a sidecar): a date
guessed from the name or the modification time says nothing that the shared name did not.
Companions never cross folders (`RAW/IMG_1.CR2` and `JPG/IMG_1.JPG` are two pictures).

A sidecar belongs to the file its name names: `IMG_1.JPG.xmp`, `IMG_1.CR2.xmp` (darktable, and
`IMG_1_01.CR2.xmp` for its duplicates), `IMG_1.jpg.json`, Google Takeout's
`IMG_1.jpg.supplemental-metadata.json` with its names cut to 46 or 47 characters and its `(1)`
numbering (`IMG_1.jpg(1).json`, `IMG_1.jpg.supplemental-metadata(1).json` for `IMG_1(1).jpg`);
else to the file of the same stem (`IMG_1.xmp`, Apple's `IMG_1.AAE` and `IMG_O1.AAE`), preferring
a RAW for an XMP (Lightroom writes none for a JPEG) and a photo over a video.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final, Generic, Literal, TypeVar

from imgcat.record import READ_CAPTURE_SOURCES, Companion, CompanionRole, MediaRecord
from imgcat.scan.detect import MEDIA_NAMED, RAW_FORMATS
from imgcat.scan.exif import xmp_capture_time
from imgcat.scan.names import with_guessed_capture_time

TWIN_SECONDS: Final = 2.0
LIVE_SECONDS: Final = 3.0  # the still is taken within the clip, whose date is its start or the still's
LIVE_STILLS: Final = frozenset({"heic", "jpeg"})
LIVE_VIDEOS: Final = frozenset({"mov", "mp4"})
LIVE_ROLES: Final = frozenset({"live_video", "live_still"})
READ_SOURCES: Final = READ_CAPTURE_SOURCES
SIDECAR_READ_LIMIT: Final = 1024 * 1024
# Google Takeout's "edited" suffix, in the languages it writes it (lowercase, NFC)
EDITED_SUFFIXES: Final = (
    "-edited", "-edytowane", "-bearbeitet", "-bewerkt", "-編集済み", "-编辑", "-modificato",
    "-modifié", "-ha editado", "-editado", "-editat",
)  # fmt: skip
# What RAW developers and editors write as Software: a JPEG from them is an export, not a twin
EXPORT_SOFTWARE: Final = (
    "lightroom", "photoshop", "darktable", "capture one", "rawtherapee", "dxo", "luminar",
    "on1 photo", "affinity photo", "acdsee", "gimp", "digikam", "silkypix", "ansel",
)  # fmt: skip
SUPPLEMENTAL: Final = "supplemental-metadata"
TAKEOUT_CUTS: Final = (46, 47)  # Takeout cuts a JSON name (before `.json` and `(n)`) to this length

_APPLE_EDITED: Final = re.compile(r"^([a-z]+_)e(\d+)$")  # img_e1234 → img_1234
_APPLE_ORIGINAL_AAE: Final = re.compile(r"^([a-z]+_)o(\d+)$")  # img_o1234.aae → img_1234
_NUMBERED: Final = re.compile(r"^(.*)\((\d+)\)$")
_DARKTABLE_DUPLICATE: Final = re.compile(r"^(.+)_\d{2,}(\.[^.]+)$")  # img_1_01.cr2 → img_1.cr2

T = TypeVar("T")
SidecarTime = Callable[[str], tuple[datetime | None, int | None]]


def fold(name: str) -> str:
    """A file name as names are compared: NFC (macOS writes NFD), lowercase."""
    return unicodedata.normalize("NFC", name).lower()


def stem_of(name: str) -> str:
    """What names one shot: the file name without extension, folded (IMG_1.HEIC ~ IMG_1.mov)."""
    return os.path.splitext(fold(name))[0]


def original_stem(stem: str) -> str | None:
    """The stem of the original, if `stem` (folded) names an edited version: Apple's `img_e1234`
    (→ `img_1234`) or Takeout's `img_1234-edited` in each language Takeout writes."""
    apple = _APPLE_EDITED.match(stem)
    if apple:
        return apple[1] + apple[2]
    for suffix in EDITED_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return None


def unit_key(name: str) -> str:
    """The stem shared by every file that may pair with `name`: its own, or its original's."""
    stem = stem_of(name)
    return original_stem(stem) or stem


def link_companions(
    records: Sequence[MediaRecord], sidecars: Sequence[str], *, sidecar_time: SidecarTime | None = None
) -> list[MediaRecord]:
    """The records of one folder with their `companions` set, and, where a record has no capture
    time of its own, the time its sidecar gives (read by `sidecar_time`; without it none is read).

    The links depend on the records (their names, kinds, capture times, content identifiers) and
    the folder's sidecars only: not on their order, nor on links made before, so the records of a
    folder linked again (after a move, a sync, a file that came) are linked as a fresh scan would.
    Companions whose file is not among `records` are dropped.
    """
    links: dict[str, set[Companion]] = defaultdict(set)
    owned = _owned_sidecars(records, sidecars)
    for owner, paths in owned.items():
        links[owner].update(Companion("sidecar", path) for path in paths)
    if sidecar_time is not None:
        records = [_with_sidecar_time(r, owned.get(r.path, []), sidecar_time) for r in records]
    by_stem: dict[str, list[MediaRecord]] = defaultdict(list)
    for record in records:
        by_stem[stem_of(record.name)].append(record)
    _pair_live_photos(records, by_stem, links)
    _pair_raw_twins(by_stem, links)
    _pair_edited(records, by_stem, links)
    return [
        replace(r, companions=tuple(sorted(links[r.path], key=lambda c: (c.role, c.path)))) for r in records
    ]


# --- time ---------------------------------------------------------------------------------------


def same_moment(a: MediaRecord, b: MediaRecord, seconds: float) -> bool:
    """Both capture times were read from the files, and they are within `seconds` of each other.

    A local time without offset (an old iPhone's JPEG) and an instant (its video's UTC date) are the
    same moment if a real UTC offset (whole quarter hours, within ±14 h) brings them together.
    """
    x, y = a.captured_at, b.captured_at
    if (
        x is None
        or y is None
        or a.captured_source not in READ_SOURCES
        or b.captured_source not in READ_SOURCES
    ):
        return False
    if (x.tzinfo is None) == (y.tzinfo is None):
        return abs((x - y).total_seconds()) <= seconds
    local, instant = (x, y) if x.tzinfo is None else (y, x)
    gap = (local - instant.astimezone(UTC).replace(tzinfo=None)).total_seconds()
    quarters = round(gap / 900) * 900
    return abs(quarters) <= 14 * 3600 and abs(gap - quarters) <= seconds


def _times_agree(a: MediaRecord, b: MediaRecord, seconds: float) -> bool:
    """Not known to be different moments: the same moment, or one of the times is not known."""
    if a.captured_source not in READ_SOURCES or b.captured_source not in READ_SOURCES:
        return True
    return same_moment(a, b, seconds)


def is_export(record: MediaRecord) -> bool:
    """Written by a RAW developer or an editor (by its Software tag), not by the camera."""
    software = (record.software or "").lower()
    return any(name in software for name in EXPORT_SOFTWARE)


# --- pairs --------------------------------------------------------------------------------------


def _pair_live_photos(
    records: Sequence[MediaRecord], by_stem: Mapping[str, list[MediaRecord]], links: dict[str, set[Companion]]
) -> None:
    stills = {r.path for r in records if r.kind == "image" and r.format in LIVE_STILLS and not is_export(r)}
    videos = {r.path for r in records if r.kind == "video" and r.format in LIVE_VIDEOS}
    by_id: dict[str, tuple[list[MediaRecord], list[MediaRecord]]] = defaultdict(lambda: ([], []))
    for record in records:
        if record.content_id and (record.path in stills or record.path in videos):
            by_id[record.content_id][record.path in videos].append(record)
    paired: set[str] = set()
    for id_stills, id_videos in by_id.values():
        if len(id_stills) == 1 and len(id_videos) == 1:
            pairs: Iterable[tuple[MediaRecord, MediaRecord]] = [(id_stills[0], id_videos[0])]
        else:  # an edited Live Photo shares its original's identifier: pair them by name
            pairs = _one_to_one(id_stills, id_videos, lambda s, v: stem_of(s.name) == stem_of(v.name))
        for still, video in pairs:
            _link(links, still, "live_video", video, "live_still")
            paired.update((still.path, video.path))

    def by_name_and_time(still: MediaRecord, video: MediaRecord) -> bool:
        if still.content_id and video.content_id and still.content_id != video.content_id:
            return False  # each carries Apple's identifier, and they differ: two shots
        return same_moment(still, video, LIVE_SECONDS)

    for group in by_stem.values():
        if len(group) < 2:
            continue
        group_stills = [r for r in group if r.path in stills and r.path not in paired]
        group_videos = [r for r in group if r.path in videos and r.path not in paired]
        for still, video in _one_to_one(group_stills, group_videos, by_name_and_time):
            _link(links, still, "live_video", video, "live_still")


def _one_to_one(
    left: Sequence[MediaRecord],
    right: Sequence[MediaRecord],
    match: Callable[[MediaRecord, MediaRecord], bool],
) -> Iterator[tuple[MediaRecord, MediaRecord]]:
    """The pairs (a, b) where `a` matches `b` alone and `b` matches `a` alone: an ambiguous
    choice links nothing."""
    if not left or not right:
        return
    matches = {a.path: [b for b in right if match(a, b)] for a in left}
    for a in left:
        if len(matches[a.path]) != 1:
            continue
        b = matches[a.path][0]
        if sum(1 for other in left if b in matches[other.path]) == 1:
            yield a, b


def _pair_raw_twins(by_stem: Mapping[str, list[MediaRecord]], links: dict[str, set[Companion]]) -> None:
    for group in by_stem.values():
        raws = [r for r in group if r.format in RAW_FORMATS]
        if not raws:
            continue
        developed = [
            r for r in group if r.kind == "image" and r.format not in RAW_FORMATS and not is_export(r)
        ]
        for raw in raws:
            for other in developed:
                if same_moment(raw, other, TWIN_SECONDS):
                    _link(links, raw, "jpeg", other, "raw")


def _pair_edited(
    records: Sequence[MediaRecord], by_stem: Mapping[str, list[MediaRecord]], links: dict[str, set[Companion]]
) -> None:
    for edited in records:
        stem = stem_of(edited.name)
        original = original_stem(stem)
        if original is None:
            continue
        candidates = [
            r
            for r in by_stem.get(original, [])
            if r.kind == edited.kind and _times_agree(r, edited, LIVE_SECONDS)
        ]
        if len(candidates) > 1:  # IMG_1234.HEIC + IMG_1234.JPG: the one of the same type
            candidates = [r for r in candidates if r.format == edited.format]
        if len(candidates) == 1:
            _link(links, candidates[0], "edited", edited, "original")


def _link(
    links: dict[str, set[Companion]],
    a: MediaRecord,
    role_of_b: CompanionRole,
    b: MediaRecord,
    role_of_a: CompanionRole,
) -> None:
    links[a.path].add(Companion(role_of_b, b.path))
    links[b.path].add(Companion(role_of_a, a.path))


# --- sidecars -----------------------------------------------------------------------------------

Match = Literal["exact", "cut", "stem"]


@dataclass
class FolderNames(Generic[T]):
    """A folder's media files by folded name and by stem: where a sidecar's owner is looked up."""

    by_name: dict[str, T]
    by_stem: dict[str, list[T]]
    _plain: list[tuple[str, str, T]] | None = None  # (name without (n), n, item), sorted, built on demand

    @classmethod
    def of(cls, entries: Iterable[tuple[str, T]]) -> FolderNames[T]:
        """From (file name, item) pairs."""
        by_name: dict[str, T] = {}
        by_stem: dict[str, list[T]] = defaultdict(list)
        for name, item in entries:
            folded = fold(name)
            by_name[folded] = item
            by_stem[os.path.splitext(folded)[0]].append(item)
        return cls(by_name, by_stem)

    def owners(self, sidecar_name: str) -> tuple[Match, list[T]]:
        """The files a sidecar may belong to, and how its name names them: exactly, cut short by
        Google Takeout (any file it may name), or by stem."""
        base, ext = os.path.splitext(fold(sidecar_name))
        if ext == ".json":
            numbered = _NUMBERED.match(base)
            whole, number = (numbered[1], numbered[2]) if numbered else (base, None)
            head, dot, tail = whole.rpartition(".")
            body = (
                head if dot and SUPPLEMENTAL.startswith(tail) else whole
            )  # `.supplemental-metadata`, or a cut of it
            if number is not None or body != whole:
                stem, media_ext = os.path.splitext(body)
                target = body if number is None else f"{stem}({number}){media_ext}"
                if target in self.by_name:
                    return "exact", [self.by_name[target]]
                if len(whole) in TAKEOUT_CUTS:
                    return "cut", self._beginning_with(body, number)
                return "exact", []  # it names a file that is gone (`IMG_1.jpg(1).json`: not IMG_1.jpg's)
        named = self._named(base)
        if named is not None:
            return "exact", [self.by_name[named]]
        if ext == ".json" and len(base) in TAKEOUT_CUTS:
            return "cut", self._beginning_with(base, None)
        if ext == ".xmp":
            duplicate = _DARKTABLE_DUPLICATE.match(base)
            if duplicate and duplicate[1] + duplicate[2] in self.by_name:
                return "exact", [self.by_name[duplicate[1] + duplicate[2]]]
        if ext == ".aae":
            base = _APPLE_ORIGINAL_AAE.sub(r"\1\2", base)
        return "stem", list(self.by_stem.get(base, []))

    def _named(self, head: str) -> str | None:
        """The longest media file name that `head` (a sidecar name without its extension) is or
        extends: IMG_1.JPG.xmp, IMG_1.JPG.json, IMG_1.CR2.xmp name IMG_1.JPG and IMG_1.CR2."""
        while True:
            if head in self.by_name:
                return head
            if "." not in head:
                return None
            head = head.rpartition(".")[0]

    def _beginning_with(self, prefix: str, number: str | None) -> list[T]:
        if self._plain is None:
            plain = []
            for name, item in self.by_name.items():
                stem, ext = os.path.splitext(name)
                numbered = _NUMBERED.match(stem)
                plain.append((numbered[1] + ext, numbered[2], item) if numbered else (name, "", item))
            self._plain = sorted(plain, key=lambda entry: entry[:2])
        start = bisect.bisect_left(self._plain, prefix, key=lambda entry: entry[0])
        found = []
        for name, n, item in self._plain[start:]:
            if not name.startswith(prefix):
                break
            if n == (number or ""):
                found.append(item)
        return found


def _owned_sidecars(records: Sequence[MediaRecord], sidecars: Sequence[str]) -> dict[str, list[str]]:
    """Owner path → its sidecars."""
    if not sidecars:
        return {}
    names = FolderNames.of((r.name, r) for r in records)
    owned: dict[str, list[str]] = defaultdict(list)
    for sidecar in sidecars:
        owner = _choose_owner(os.path.basename(sidecar), *names.owners(os.path.basename(sidecar)))
        if owner is not None:
            owned[owner.path].append(sidecar)
    return owned


def _choose_owner(sidecar_name: str, match: Match, candidates: list[MediaRecord]) -> MediaRecord | None:
    if match == "cut":
        return candidates[0] if len(candidates) == 1 else None  # cut names two files: neither's
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    ext = os.path.splitext(sidecar_name)[1].lower()
    stills = [r for r in candidates if r.kind == "image"]
    if ext == ".thm":  # a camera's thumbnail of its video
        stills = [r for r in candidates if r.kind == "video"]
    raws = [r for r in stills if r.format in RAW_FORMATS] if ext == ".xmp" else []
    chosen = raws or stills or candidates  # an XMP beside a RAW+JPEG pair is the RAW's (Lightroom)
    return min(chosen, key=lambda r: r.path)  # the same owner whatever the order


def sidecars_with_owner(sidecars: Collection[str], media_paths: Iterable[str]) -> set[str]:
    """The sidecars that `link_companions` attaches to one of `media_paths`."""
    if not sidecars:
        return set()  # the common folder: nothing to look up
    names = FolderNames.of((os.path.basename(path), path) for path in media_paths)
    owned = set()
    for sidecar in sidecars:
        match, candidates = names.owners(os.path.basename(sidecar))
        if len(candidates) == 1 or (candidates and match != "cut"):
            owned.add(sidecar)
    return owned


def orphan_sidecars(sidecars: Collection[str], file_paths: Iterable[str]) -> list[str]:
    """The sidecars whose file is gone: named after no file of `file_paths` (the folder's). A JSON
    counts only if its name names a photo or video (`IMG_1.jpg.json`), as `album.json` does not."""
    if not sidecars:
        return []
    names = FolderNames.of((os.path.basename(path), path) for path in file_paths)
    return sorted(
        sidecar
        for sidecar in sidecars
        if not names.owners(os.path.basename(sidecar))[1] and _names_media(os.path.basename(sidecar))
    )


def _names_media(sidecar_name: str) -> bool:
    folded = fold(sidecar_name)
    base, ext = os.path.splitext(folded)
    if ext != ".json":
        return True  # .xmp, .aae, .thm exist only beside a photo or video
    parts = _NUMBERED.sub(r"\1", base).split(".")
    return len(parts) > 1 and (parts[1] in MEDIA_NAMED or any(SUPPLEMENTAL.startswith(p) for p in parts[2:]))


# --- capture time from a sidecar ----------------------------------------------------------------


def _with_sidecar_time(record: MediaRecord, sidecars: list[str], read: SidecarTime) -> MediaRecord:
    """A record without a capture time of its own takes its sidecar's (Takeout's photoTakenTime,
    an XMP's DateTimeOriginal); one that had taken it falls back to its name or mtime when the
    sidecar goes. A time taken earlier is kept while a sidecar is there: no sidecar is read again."""
    readable = sorted((s for s in sidecars if s.lower().endswith((".json", ".xmp"))), key=_json_first)
    if record.captured_source == "sidecar":
        return record if readable else with_guessed_capture_time(replace(record, captured_at=None))
    if record.captured_source in ("exif", "video"):
        return record
    for sidecar in readable:
        moment, offset = read(sidecar)
        if moment is not None:
            return replace(record, captured_at=moment, captured_offset=offset, captured_source="sidecar")
    return record


def _json_first(path: str) -> bool:
    return not path.lower().endswith(".json")


def read_sidecar_time(path: str) -> tuple[datetime | None, int | None]:
    """The capture time a sidecar holds, and its UTC offset if known: Google Takeout's
    `photoTakenTime` (an instant, UTC) in a JSON, DateTimeOriginal in an XMP; (None, None) if it
    holds none or cannot be read."""
    try:
        with open(path, "rb") as file:
            data = file.read(SIDECAR_READ_LIMIT)
    except OSError:
        return None, None
    if path.lower().endswith(".json"):
        return takeout_taken_time(data), None
    return xmp_capture_time(data)


def takeout_taken_time(data: bytes) -> datetime | None:
    """`{"photoTakenTime": {"timestamp": "1562247012", ...}}` → 2019-07-04 13:30:12 UTC."""
    try:
        document = json.loads(data)
        stamp = int(document["photoTakenTime"]["timestamp"])
        return datetime.fromtimestamp(stamp, UTC) if stamp > 0 else None
    except (ValueError, TypeError, KeyError, OverflowError, OSError):
        return None
