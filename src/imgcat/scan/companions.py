"""The files that make one photo together: Live Photo halves, RAW+JPEG twins, sidecars."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Final

from imgcat.record import Companion, CompanionRole, MediaRecord
from imgcat.scan.detect import RAW_FORMATS

TWIN_SECONDS: Final = 2.0
LIVE_STILLS: Final = frozenset({"heic", "jpeg"})
LIVE_VIDEOS: Final = frozenset({"mov", "mp4"})
LIVE_ROLES: Final = frozenset({"live_video", "live_still"})


def link_companions(
    records: Sequence[MediaRecord], sidecars: Sequence[str], content_ids: Mapping[str, str]
) -> list[MediaRecord]:
    """The records of one folder with their `companions` set.

    Live Photos pair by Apple's content identifier (`content_ids`: path → id), else by the same
    stem (a HEIC/JPEG with a MOV); RAW+JPEG pairs share a stem and were shot within 2 s; a sidecar
    belongs to the media file it is named after (`IMG_1.xmp`, `IMG_1.JPG.xmp`, `IMG_1.JPG.json`).
    """
    links: dict[str, set[Companion]] = defaultdict(set)
    by_stem: dict[str, list[MediaRecord]] = defaultdict(list)
    for record in records:
        by_stem[stem_of(record.name)].append(record)
    by_name = {record.name.lower(): record for record in records}
    _pair_live_photos(records, content_ids, by_stem, links)
    _pair_raw_twins(by_stem, links)
    for sidecar in sidecars:
        owner = _sidecar_owner(os.path.basename(sidecar), by_name, by_stem)
        if owner is not None:
            links[owner.path].add(Companion("sidecar", sidecar))
    return [
        replace(r, companions=tuple(sorted(links[r.path], key=lambda c: (c.role, c.path)))) for r in records
    ]


def relink_companions(
    records: Sequence[MediaRecord], sidecars: Sequence[str], content_ids: Mapping[str, str] | None = None
) -> list[MediaRecord]:
    """`link_companions` over records of which some were linked before: companions whose file is
    not among `records` are dropped, and Live Photo pairs made earlier by Apple's content
    identifier (which is not stored) are kept while both halves are there."""
    present = {r.path for r in records}
    ids = dict(content_ids or {})
    for record in records:
        for companion in record.companions:
            if companion.role in LIVE_ROLES and companion.path in present:
                shared = ids.get(record.path) or ids.get(companion.path) or min(record.path, companion.path)
                ids[record.path] = ids[companion.path] = shared
    return link_companions(records, sidecars, ids)


def sidecars_with_owner(sidecars: Collection[str], media_paths: Iterable[str]) -> set[str]:
    """The sidecars named after one of `media_paths`: those `link_companions` attaches to one."""
    if not sidecars:
        return set()  # the common folder: nothing to look up
    names = {os.path.basename(path).lower() for path in media_paths}
    stems = {stem_of(name) for name in names}
    return {
        sidecar
        for sidecar in sidecars
        if _named_after(os.path.basename(sidecar).lower(), names)
        or stem_of(os.path.basename(sidecar)) in stems
    }


def _pair_live_photos(
    records: Sequence[MediaRecord],
    content_ids: Mapping[str, str],
    by_stem: Mapping[str, list[MediaRecord]],
    links: dict[str, set[Companion]],
) -> None:
    by_id: dict[str, list[MediaRecord]] = defaultdict(list)
    for record in records:
        if record.path in content_ids:
            by_id[content_ids[record.path]].append(record)
    groups = list(by_id.values()) + [group for group in by_stem.values() if len(group) > 1]
    for group in groups:
        stills = [r for r in group if r.kind == "image" and r.format in LIVE_STILLS]
        videos = [r for r in group if r.kind == "video" and r.format in LIVE_VIDEOS]
        if len(stills) == 1 and len(videos) == 1:
            _link(links, stills[0], "live_video", videos[0], "live_still")


def _pair_raw_twins(by_stem: Mapping[str, list[MediaRecord]], links: dict[str, set[Companion]]) -> None:
    for group in by_stem.values():
        raws = [r for r in group if r.format in RAW_FORMATS]
        developed = [r for r in group if r.kind == "image" and r.format not in RAW_FORMATS]
        for raw in raws:
            for other in developed:
                if _within(raw.captured_at, other.captured_at, TWIN_SECONDS):
                    _link(links, raw, "jpeg", other, "raw")


def _link(
    links: dict[str, set[Companion]],
    a: MediaRecord,
    role_of_b: CompanionRole,
    b: MediaRecord,
    role_of_a: CompanionRole,
) -> None:
    links[a.path].add(Companion(role_of_b, b.path))
    links[b.path].add(Companion(role_of_a, a.path))


def _within(a: datetime | None, b: datetime | None, seconds: float) -> bool:
    if a is None or b is None or (a.tzinfo is None) != (b.tzinfo is None):
        return False
    return abs((a - b).total_seconds()) <= seconds


def stem_of(name: str) -> str:
    """What names one shot: the file name without extension, lowercased (IMG_1.HEIC ~ IMG_1.mov)."""
    return os.path.splitext(name)[0].lower()


def _named_after(lowered: str, names: Container[str]) -> str | None:
    """The media file name that a sidecar's (lowercased) name extends, longest first:
    IMG_1.JPG.xmp, IMG_1.JPG.json and IMG_1.JPG.supplemental-metadata.json all name IMG_1.JPG."""
    head = lowered
    while "." in head:
        head = head.rpartition(".")[0]
        if head in names:
            return head
    return None


def _sidecar_owner(
    name: str, by_name: Mapping[str, MediaRecord], by_stem: Mapping[str, list[MediaRecord]]
) -> MediaRecord | None:
    full_name = _named_after(name.lower(), by_name)
    if full_name is not None:
        return by_name[full_name]
    candidates = by_stem.get(stem_of(name), [])
    stills = [r for r in candidates if r.kind == "image"]
    raws = [r for r in stills if r.format in RAW_FORMATS] if name.lower().endswith(".xmp") else []
    chosen = raws or stills or candidates  # an XMP beside a RAW+JPEG pair is the RAW's (Lightroom)
    return min(chosen, key=lambda r: r.path) if chosen else None  # the same owner whatever the order
