"""`reorganize`'s patterns: tokens, dates as the wall clock showed them, and segments safe everywhere."""

from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conftest import make_record
from imgcat.layout import (
    MAX_SEGMENT_BYTES,
    TOKENS,
    PatternError,
    Placement,
    parse_pattern,
    place,
    safe_segment,
    wall_time,
    within,
)
from imgcat.record import MediaRecord

SHOT = datetime(2019, 7, 4, 15, 30, 12, tzinfo=timezone(timedelta(hours=2)))
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{d}" for d in range(10)), *(f"LPT{d}" for d in range(10))}


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This machine's zone is New York (UTC-4 in July) for the test."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _photo(**fields: object) -> MediaRecord:
    record = make_record(
        "/photos/2019 Sardinia/IMG_0001.JPG", captured_at=SHOT, captured_offset=120,
        captured_source="exif", make="Canon", model="Canon EOS 350D",
    )  # fmt: skip
    return replace(record, **fields)  # type: ignore[arg-type]


def _path(placement: Placement, name: str = "IMG_0001.JPG") -> str:
    leaf = name if placement.stem is None else f"{placement.stem}{placement.extension}"
    return "/".join((*placement.folders, leaf))


def test_year_month_places_by_the_wall_clock_of_the_capture() -> None:
    assert _path(place(parse_pattern("<year>/<month>"), _photo())) == "2019/07/IMG_0001.JPG"


def test_every_token_has_its_value() -> None:
    pattern = parse_pattern(
        "<year>/<month>-<month_name>/<day>/<date> <camera>/<make>/<model>/<kind>/<ext>/<device>/"
        "<original_dir>/<date>_<hour><minute><second>_<name>"
    )
    assert _path(place(pattern, _photo())) == (
        "2019/07-July/04/2019-07-04 Canon EOS 350D/Canon/Canon EOS 350D/image/jpg/laptop/"
        "2019 Sardinia/2019-07-04_153012_IMG_0001.JPG"
    )


def test_braces_work_like_angle_brackets() -> None:
    braces, brackets = parse_pattern("{year}/{Month}/{name}"), parse_pattern("<year>/<month>/<name>")
    assert (braces.folders, braces.file) == (brackets.folders, brackets.file)


def test_camera_does_not_repeat_the_make() -> None:
    pattern = parse_pattern("<camera>")
    assert place(pattern, _photo(make="Apple", model="iPhone 11 Pro")).folders == ("Apple iPhone 11 Pro",)
    assert place(pattern, _photo(make="NIKON CORPORATION", model="NIKON D70")).folders == ("NIKON D70",)
    assert place(pattern, _photo(make=None, model=None)).folders == ("unknown",)


def test_unknown_token_is_one_line_listing_the_valid_ones() -> None:
    with pytest.raises(PatternError) as raised:
        parse_pattern("<year>/<mnth>")
    assert str(raised.value) == "unknown token <mnth> in --pattern; valid: " + " ".join(
        f"<{t}>" for t in TOKENS
    )


def test_strftime_codes_are_refused_with_a_hint() -> None:
    with pytest.raises(PatternError, match=r"not %Y"):
        parse_pattern("%Y/%m")


@pytest.mark.parametrize("text", ["../<year>", "<year>/../..", "/<year>", "..", " . ./x", "C:/x", ""])
def test_a_pattern_that_leaves_the_destination_is_refused(text: str) -> None:
    with pytest.raises(PatternError):
        parse_pattern(text)


def test_last_segment_names_the_file_only_with_a_naming_token() -> None:
    assert not parse_pattern("<year>/<month>").renames
    assert not parse_pattern("<year>/<date>").renames  # a folder per day
    assert parse_pattern("<year>/<date>_<hour><minute><second>").renames
    assert parse_pattern("<year>/<name>").renames
    assert not parse_pattern("<year>/<name>/").renames  # a trailing slash: folders only


def test_explicit_ext_gives_the_lowercased_extension() -> None:
    placement = place(parse_pattern("<year>/<date>_<name>.<ext>"), _photo())
    assert _path(placement) == "2019/2019-07-04_IMG_0001.jpg"
    kept = place(parse_pattern("<year>/<date>_<name>"), _photo())
    assert _path(kept) == "2019/2019-07-04_IMG_0001.JPG"


def test_a_time_with_an_offset_is_shown_at_that_offset(zone: None) -> None:
    assert wall_time(_photo()) == datetime(2019, 7, 4, 15, 30, 12)


def test_a_local_time_without_offset_stays_as_recorded(zone: None) -> None:
    local = _photo(captured_at=datetime(2019, 12, 31, 23, 59, 59), captured_offset=None)
    assert _path(place(parse_pattern("<year>/<month>"), local)) == "2019/12/IMG_0001.JPG"


def test_a_video_utc_instant_is_shown_in_this_machines_zone(zone: None) -> None:
    video = _photo(
        kind="video", captured_at=datetime(2020, 1, 1, 2, 30, tzinfo=UTC), captured_offset=None,
        captured_source="video",
    )  # fmt: skip
    assert wall_time(video) == datetime(2019, 12, 31, 21, 30)  # New York (UTC-5): still 2019
    assert place(parse_pattern("<year>/<month>"), video).folders == ("2019", "12")


def test_guessed_dates_go_to_unknown_with_date_source_exif() -> None:
    guessed = _photo(captured_source="filename")
    pattern = parse_pattern("<year>/<month>")
    assert place(pattern, guessed, "any").folders == ("2019", "07")
    assert place(pattern, guessed, "exif").folders == ("unknown",)
    assert place(pattern, _photo(captured_source="video"), "exif").folders == ("2019", "07")
    assert place(pattern, _photo(captured_source="sidecar"), "exif").folders == ("2019", "07")  # Takeout's


def test_missing_dates_collapse_into_one_unknown() -> None:
    undated = _photo(captured_at=None, captured_offset=None, captured_source=None)
    assert place(parse_pattern("<year>/<month>/<day>"), undated).folders == ("unknown",)
    assert place(parse_pattern("<camera>/<year>/<month>"), undated).folders == ("Canon EOS 350D", "unknown")
    named = place(parse_pattern("<year>/<date>_<hour><minute><second>_<name>"), undated)
    assert _path(named) == "unknown/unknown_IMG_0001.JPG"
    only_date = place(parse_pattern("<year>/<date>_<hour><minute><second>"), undated)
    assert _path(only_date) == "unknown/IMG_0001.JPG"  # nothing known: the name is kept


def test_exif_make_and_model_cannot_climb_out() -> None:
    hostile = _photo(make="../../..", model="/etc/passwd\x00\n", captured_at=None)
    placement = place(parse_pattern("<make>/<model>/<camera>/<name>"), hostile)
    assert all(part not in ("", ".", "..") and "/" not in part for part in placement.folders)
    assert placement.folders[:2] == ("unknown", "_etc_passwd__")  # nothing but dots: no value
    assert within("/dest", (*placement.folders, "x")).startswith("/dest/")


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("a/b", "a_b"), ("..", "_"), (".hidden", "_hidden"), ("name. . ", "name"), ("CON", "CON_"),
        ("nul.txt", "nul_.txt"), ("com1", "com1_"), ("COM10", "COM10"), ("a\tb\x7f", "a_b_"),
        ("x\u202egpj.exe", "x_gpj.exe"), ("what?*:", "what___"), ("  padded  ", "padded"), ("", "_"),
    ],
)  # fmt: skip
def test_safe_segment_examples(given: str, safe: str) -> None:
    assert safe_segment(given) == safe


def test_over_long_segments_are_cut_in_bytes_on_a_character_boundary() -> None:
    cut = safe_segment("é" * 300)
    assert len(cut.encode()) == 254  # 127 two-byte characters; never half of one
    assert cut == "é" * 127


def test_a_placed_name_is_recognised_on_the_next_run() -> None:
    placement = place(parse_pattern("<year>/<date>_<hour><minute><second>_<name>"), _photo())
    assert placement.earlier is not None
    assert placement.earlier.fullmatch("2019-07-04_153012_IMG_0001.JPG")
    assert placement.earlier.fullmatch("2019-07-04_153012_IMG_0001_2.JPG")
    assert placement.earlier.fullmatch("2019-07-04_153012_anything.jpg")
    assert not placement.earlier.fullmatch("2019-07-05_153012_IMG_0001.JPG")


def _valid_segment(part: str) -> bool:
    encoded = os.fsencode(part)
    return (
        part not in ("", ".", "..")
        and not part.startswith(".")
        and not part.endswith((".", " "))
        and not any(c in part for c in '/\\\x00<>:"|?*')
        and not any(ord(c) < 32 or ord(c) == 127 for c in part)
        and part.split(".", 1)[0].upper() not in RESERVED
        and len(encoded) <= MAX_SEGMENT_BYTES
    )


values = st.one_of(
    st.none(),
    st.text(max_size=300),
    st.sampled_from(["..", ".", "../../..", "/", "CON", "nul.jpg", " . ", "a/../b", "\x00", "é" * 200]),
)
literals = st.text(alphabet="abc -_.", max_size=4)
segments = st.lists(st.one_of(literals, st.sampled_from([f"<{t}>" for t in TOKENS])), min_size=1, max_size=5)
patterns = st.lists(segments.map("".join), min_size=1, max_size=4).map("/".join)


@settings(max_examples=300, deadline=None)
@given(pattern=patterns, make=values, model=values, name=values, folder=values, device=st.text(min_size=1))
@example(pattern="<make>/<name>", make="../../..", model=None, name="..", folder="..", device="..")
def test_nothing_lands_outside_the_destination(
    pattern: str, make: str | None, model: str | None, name: str | None, folder: str | None, device: str
) -> None:
    try:
        parsed = parse_pattern(pattern)
    except PatternError:
        return
    file_name = (name or "x").replace("/", "_").replace("\x00", "_") + ".JPG"
    folder_name = (folder or "f").replace("/", "_").replace("\x00", "_")
    record = make_record(
        posixpath.join("/src", folder_name, file_name), make=make, model=model, device=device
    )
    placement = place(parsed, record)
    leaf = file_name if placement.stem is None else f"{placement.stem}{placement.extension}"
    parts = (*placement.folders, leaf if placement.stem is not None else "IMG.JPG")
    assert all(_valid_segment(part) for part in parts), parts
    target = os.path.normpath(within("/dest", parts))
    assert target.startswith("/dest/") and target.count("/") == len(parts) + 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_safe_segment_is_always_a_valid_segment(text: str) -> None:
    assert _valid_segment(safe_segment(text))
