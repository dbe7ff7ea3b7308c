"""A video's place and capture time wherever phones and cameras put them, each checked against
exiftool: the real videos of the shared media, and copies of them with a box or chunk written in
(correct parent sizes) where the media has no file with that field."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgcat.record import MediaRecord
from imgcat.scan.bmff import boxes
from imgcat.scan.extract import extract_file
from imgcat.scan.reading import FileStat
from imgcat.scan.video_tags import container_facts, iso6709, riff_date
from media import MEDIA

Children = list[tuple[bytes, bytes]]


def exiftool_time(value: object) -> datetime:
    """exiftool's `2009:05:17 14:03:27.250Z` (or with an offset, or none) as a datetime."""
    return datetime.fromisoformat(str(value).replace(":", "-", 2).replace("Z", "+00:00"))


def exiftool(path: Path, *tags: str) -> dict[str, object]:
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool not installed (Debian: libimage-exiftool-perl)")
    answer = subprocess.run(["exiftool", "-json", "-n", *tags, str(path)], capture_output=True, check=True)
    found: dict[str, object] = json.loads(answer.stdout)[0]
    return found


def extracted(path: Path) -> MediaRecord:
    extraction = extract_file(FileStat.of(str(path)), "d", datetime.now(UTC))
    assert extraction.record is not None, extraction.problem
    assert extraction.record.kind == "video"
    return extraction.record


def assert_place_agrees_with_exiftool(path: Path) -> MediaRecord:
    record = extracted(path)
    theirs = exiftool(path, "-GPSLatitude", "-GPSLongitude", "-GPSAltitude")
    if "GPSLatitude" not in theirs:
        assert record.gps is None, path.name
        return record
    assert record.gps is not None, f"{path.name}: a place exiftool sees"
    assert record.gps.lat == pytest.approx(float(str(theirs["GPSLatitude"])), abs=1e-5), path.name
    assert record.gps.lon == pytest.approx(float(str(theirs["GPSLongitude"])), abs=1e-5), path.name
    if "GPSAltitude" in theirs:
        assert record.gps.alt is not None
        assert abs(record.gps.alt) == pytest.approx(float(str(theirs["GPSAltitude"])), abs=0.01)
    return record


VIDEOS = sorted(
    str(p.relative_to(MEDIA))
    for p in MEDIA.rglob("*")
    if p.suffix.lower() in {".mp4", ".mov", ".3gp", ".avi", ".mts", ".m2ts", ".mkv", ".webm", ".mpg", ".wmv"}
)


@pytest.mark.parametrize("video", VIDEOS)
def test_the_place_of_every_real_video_agrees_with_exiftool(video: str) -> None:
    assert_place_agrees_with_exiftool(MEDIA / video)


def test_a_3gpp_location_box_of_a_real_phone_video_is_read() -> None:
    record = assert_place_agrees_with_exiftool(MEDIA / "iphone_video/Issue 515 (java).mp4")
    assert record.gps is not None and record.gps.lat == pytest.approx(52.36929, abs=1e-5)


def test_a_recorded_date_with_its_offset_is_the_capture_time() -> None:
    """Android and 3GPP `udta/date`: local time with offset, as exiftool's UserData date."""
    for video in ("iphone_video/Issue 515 (java).mp4", "iphone_video/fixture2.3gp"):
        record = extracted(MEDIA / video)
        theirs = str(exiftool(MEDIA / video, "-UserData:DateTimeOriginal")["DateTimeOriginal"])
        expected = datetime.strptime(theirs, "%Y:%m:%d %H:%M:%S%z")
        assert record.captured_at == expected and record.captured_at.utcoffset() == expected.utcoffset()
        assert record.captured_offset == expected.utcoffset().total_seconds() // 60  # type: ignore[union-attr]


# --- QuickTime/MP4 boxes written into a copy of a real Samsung phone video ---------------------


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def text_item(text: str) -> bytes:
    """QuickTime user-data text: length, language, the text (as Android's MediaMuxer writes ©xyz)."""
    data = text.encode()
    return struct.pack(">HH", len(data), 0x15C7) + data


def data_box(text: str) -> bytes:
    return box(b"data", struct.pack(">II", 1, 0) + text.encode())


def loci(lat: float, lon: float, alt: float, name: bytes = b"Home\0") -> bytes:
    fixed = struct.pack(">iii", round(lon * 65536), round(lat * 65536), round(alt * 65536))
    return box(b"loci", b"\0\0\0\0" + b"\x55\xc4" + name + b"\0" + fixed + b"earth\0" + b"\0")


def handler(kind: bytes) -> bytes:
    return box(b"hdlr", b"\0" * 8 + kind + b"\0" * 12 + b"\0")


def apple_keys(text: str) -> bytes:
    """QuickTime `moov/meta` (no version word) with Apple's keyed location, as iPhones write it."""
    key = b"com.apple.quicktime.location.ISO6709"
    keys = box(b"keys", b"\0\0\0\0" + struct.pack(">I", 1) + struct.pack(">I", 8 + len(key)) + b"mdta" + key)
    ilst = box(b"ilst", box(struct.pack(">I", 1), data_box(text)))
    return handler(b"mdta") + keys + ilst


def item_list(text: str) -> bytes:
    """An ISO `meta` (version word) with an iTunes-style list holding ©xyz, as Google Photos writes."""
    return b"\0\0\0\0" + handler(b"mdir") + box(b"ilst", box(b"\xa9xyz", data_box(text)))


def rewritten(tmp_path: Path, name: str, edit: Callable[[Children], Children]) -> Path:
    """A copy of a real phone video (its `moov` is the last box, so nothing moves) whose `moov`
    children are replaced by `edit`'s, with every parent size written again."""
    data = (MEDIA / "misc_video/with-gps.mp4").read_bytes()
    kind, start, end = boxes(data, 0, len(data))[-1]
    assert kind == b"moov" and end == len(data)
    children = [(k, data[s:e]) for k, s, e in boxes(data, start, end)]
    path = tmp_path / name
    path.write_bytes(data[: start - 8] + box(b"moov", b"".join(box(k, p) for k, p in edit(children))))
    return path


def in_user_data(*added: bytes, keep_xyz: bool = False) -> Callable[[Children], Children]:
    """Replace the video's `udta` by its children (its own ©xyz left out) and `added`."""

    def edit(children: Children) -> Children:
        result: Children = []
        for kind, payload in children:
            if kind == b"udta":
                own = [box(k, payload[s:e]) for k, s, e in boxes(payload, 0, len(payload))]
                kept = [b for b in own if keep_xyz or b[4:8] != b"\xa9xyz"]
                payload = b"".join(kept) + b"".join(added)
            result.append((kind, payload))
        return result

    return edit


def in_movie_meta(payload: bytes) -> Callable[[Children], Children]:
    def edit(children: Children) -> Children:
        without = in_user_data()(children)
        return [(k, payload if k == b"meta" else p) for k, p in without]

    return edit


PLACES: dict[str, Callable[[Children], Children]] = {
    "loci.mp4": in_user_data(loci(-33.85678, 151.21529, 4.5)),
    "xyz-degrees-minutes.mp4": in_user_data(box(b"\xa9xyz", text_item("+4851.50+00217.67+035.0/"))),
    "xyz-degrees-minutes-seconds.mp4": in_user_data(box(b"\xa9xyz", text_item("-225430.5-0431146.7/"))),
    "at-xyz.mp4": in_user_data(box(b"@xyz", b"+64.1466-021.9426/")),  # plain text, as iPhone 3GS
    "apple-keys.mov": in_movie_meta(apple_keys("+37.3349-122.0090+030.000/")),
    "google-photos-ilst.mp4": in_user_data(box(b"meta", item_list("+40.6892-074.0445/"))),
}


@pytest.mark.parametrize("name", sorted(PLACES))
def test_a_place_written_where_a_phone_puts_it_agrees_with_exiftool(tmp_path: Path, name: str) -> None:
    path = rewritten(tmp_path, name, PLACES[name])
    record = assert_place_agrees_with_exiftool(path)
    assert record.gps is not None, name
    assert (record.gps.lat, record.gps.lon) != pytest.approx((51.4169, -0.0806))  # not the original


def test_a_location_box_named_in_utf16_is_read(tmp_path: Path) -> None:
    """3GPP allows the place name in UTF-16 (with its byte-order mark, ending in two zeros);
    exiftool 12.57 takes such a name for an empty one and misreads the numbers after it, so the
    check is against the values written."""
    named = loci(35.65858, 139.74543, -12.25, "\ufeffTōkyō\0".encode("utf-16-be"))
    record = extracted(rewritten(tmp_path, "loci-utf16.mp4", in_user_data(named)))
    assert record.gps is not None
    written = pytest.approx((35.65858, 139.74543, -12.25), abs=2e-5)
    assert (record.gps.lat, record.gps.lon, record.gps.alt) == written


def test_apple_keys_win_over_other_places(tmp_path: Path) -> None:
    both = in_user_data(box(b"@xyz", b"+10.0000+010.0000/"), keep_xyz=True)
    path = rewritten(tmp_path, "both.mov", lambda c: in_movie_meta(apple_keys("+20.0+020.0/"))(both(c)))
    record = extracted(path)
    assert record.gps is not None and (record.gps.lat, record.gps.lon) == (20.0, 20.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+51.4169-000.0806/", (51.4169, -0.0806, None)),
        ("+32.0929+034.8620+028.516/", (32.0929, 34.862, 28.516)),
        ("+4851.50+00217.67+035.0/", (48 + 51.5 / 60, 2 + 17.67 / 60, 35.0)),
        ("-225430.5-0431146.7/", (-(22 + 54 / 60 + 30.5 / 3600), -(43 + 11 / 60 + 46.7 / 3600), None)),
        ("+91.0000+000.0000/", None),
        ("garbage", None),
    ],
)
def test_iso6709_in_its_three_forms(text: str, expected: tuple[float, float, float | None] | None) -> None:
    point = iso6709(text)
    if expected is None:
        assert point is None
    else:
        assert point is not None
        assert (point.lat, point.lon) == pytest.approx(expected[:2])
        assert point.alt == expected[2]


# --- AVI: IDIT and ICRD, written into a copy of a real Canon AVI -------------------------------


def canon_avi(tmp_path: Path, name: str, idit: bytes | None, icrd: bytes | None = None) -> Path:
    """The Canon AVI with its IDIT (26 bytes, in hdrl) replaced or renamed away, and its INFO
    list's ISFT chunk (12 bytes) turned into an ICRD: same sizes, nothing moves."""
    data = bytearray((MEDIA / "canon_video/MVI_4823.AVI").read_bytes())
    at = data.index(b"IDIT\x1a\x00\x00\x00")
    if idit is None:
        data[at : at + 4] = b"IDIX"  # an unknown chunk: skipped by every reader
    else:
        data[at + 8 : at + 8 + 26] = idit.ljust(26, b"\0")[:26]
    if icrd is not None:
        software = data.index(b"ISFT\x0c\x00\x00\x00")
        data[software : software + 20] = b"ICRD\x0c\x00\x00\x00" + icrd.ljust(12, b"\0")[:12]
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "idit",
    [
        b"MON SEP 10 20:52:00 2012\n",  # the Canon's own
        b"Tue Sep 11 08:05:09 2012\n",
        b"2012:09:12 21:15:30",  # EXIF style
        b"2012-09-13  15:35:01",  # Konica KD500Z
        b"2012/ 9/14  1:42PM",  # Casio QV
        b"2012/09/15/ 09:19",  # Casio EX-Z30
    ],
)
def test_an_avi_capture_time_from_idit_agrees_with_exiftool(tmp_path: Path, idit: bytes) -> None:
    path = canon_avi(tmp_path, "MVI_0001.AVI", idit)
    theirs = exiftool(path, "-RIFF:DateTimeOriginal").get("DateTimeOriginal")
    record = extracted(path)
    assert record.captured_source == "video"
    assert record.captured_at == riff_date(idit) and record.captured_at.tzinfo is None  # type: ignore[union-attr]
    expected = str(theirs).replace(":", "-", 2).replace(" ", "T")
    if expected.endswith("PM"):  # exiftool leaves a 12-hour time it cannot read as it is
        expected = "2012-09-14T13:42:00"
    assert record.captured_at.isoformat() == expected[:19]  # type: ignore[union-attr]


def test_an_avi_without_idit_takes_icrd(tmp_path: Path) -> None:
    path = canon_avi(tmp_path, "MVI_0002.AVI", None, icrd=b"2011-07-04")
    theirs = exiftool(path, "-RIFF:DateCreated", "-RIFF:DateTimeOriginal")
    assert "DateTimeOriginal" not in theirs and theirs["DateCreated"] == "2011:07:04"
    record = extracted(path)
    assert (record.captured_at, record.captured_source) == (datetime(2011, 7, 4), "video")


def test_idit_wins_over_icrd(tmp_path: Path) -> None:
    path = canon_avi(tmp_path, "MVI_0003.AVI", b"2012:09:12 21:15:30", icrd=b"2011-07-04")
    assert extracted(path).captured_at == datetime(2012, 9, 12, 21, 15, 30)


# --- ASF/WMV and MPEG-PS camcorders: files built from their specifications ---------------------

ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
ASF_FILE_PROPERTIES = bytes.fromhex("a1dcab8c47a9cf118ee400c00c205365")
ASF_DATA = bytes.fromhex("3626b2758e66cf11a6d900aa0062ce6c")


def asf(created: datetime) -> bytes:
    """An ASF file (a WMV as a Windows phone wrote it, without streams) created at `created`."""
    filetime = int((created - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10_000_000)
    properties = (
        b"\x11" * 16 + struct.pack("<QQQQQQ", 0, filetime, 0, 90_000_000, 90_000_000, 3000)
        + struct.pack("<IIII", 2, 3200, 3200, 1_000_000)
    )  # fmt: skip
    objects = ASF_FILE_PROPERTIES + struct.pack("<Q", 24 + len(properties)) + properties
    header = ASF_HEADER + struct.pack("<QIBB", 30 + len(objects), 1, 1, 2) + objects
    data = ASF_DATA + struct.pack("<Q", 50) + b"\x22" * 16 + struct.pack("<QBB", 0, 1, 1)
    return header + data


def test_a_wmv_capture_time_is_its_creation_date_as_exiftool_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "WM_0001.wmv"
    path.write_bytes(asf(datetime(2009, 5, 17, 14, 3, 27, tzinfo=UTC)))
    theirs = exiftool_time(exiftool(path, "-ASF:CreationDate")["CreationDate"])
    record = extracted(path)
    assert record.format == "wmv" and record.captured_source == "video"
    assert record.captured_at == theirs == datetime(2009, 5, 17, 14, 3, 27, tzinfo=UTC)


def mpeg_ps() -> bytes:
    """An MPEG-2 program stream: a pack header, a system header, an end code."""
    pack = b"\x00\x00\x01\xba" + bytes.fromhex("440004000401018a3ff8")
    system = b"\x00\x00\x01\xbb" + struct.pack(">H", 6) + bytes.fromhex("80c4e104e17f")
    return pack + system + b"\x00\x00\x01\xb9"


def test_a_camcorder_mod_takes_the_date_of_its_moi(tmp_path: Path) -> None:
    """JVC/Canon/Panasonic SD camcorders: MOV001.MOD (MPEG-PS) and MOV001.MOI (its date)."""
    mod = tmp_path / "MOV001.MOD"
    mod.write_bytes(mpeg_ps())
    moi = tmp_path / "MOV001.MOI"
    when = struct.pack(">HBBBBH", 2008, 8, 24, 16, 45, 31_250)  # the last: milliseconds of the minute
    moi.write_bytes(b"V6" + struct.pack(">I", 1024) + when + b"\0" * 1010)
    theirs = exiftool_time(exiftool(moi, "-MOI:DateTimeOriginal")["DateTimeOriginal"])
    record = extracted(mod)
    assert record.format == "mpeg" and record.captured_source == "video"
    assert record.captured_at == theirs == datetime(2008, 8, 24, 16, 45, 31, 250_000)
    moi.unlink()
    assert extracted(mod).captured_source == "mtime"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.sampled_from(["mp4", "avi", "wmv"]),
    edits=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), min_size=1, max_size=16),
    cut=st.one_of(st.none(), st.integers(0, 4096)),
)
def test_damaged_headers_never_raise(
    tmp_path: Path, seed: str, edits: list[tuple[int, int]], cut: int | None
) -> None:
    if seed == "mp4":  # the metadata boxes: the end of the file
        whole = rewritten(tmp_path, "m.mp4", PLACES["apple-keys.mov"]).read_bytes()
        head, data = whole[:-4096], bytearray(whole[-4096:])
    elif seed == "avi":
        whole = canon_avi(tmp_path, "a.avi", b"2012:09:12 21:15:30", icrd=b"2011-07-04").read_bytes()
        head, data = b"", bytearray(whole[:4096])
    else:
        head, data = b"", bytearray(asf(datetime(2009, 5, 17, tzinfo=UTC)))
    for position, value in edits:
        data[position % len(data)] = value
    path = tmp_path / f"mutant.{seed}"
    path.write_bytes(head + bytes(data[:cut]))
    facts = container_facts(str(path), {"mp4": "mov", "avi": "avi", "wmv": "wmv"}[seed])
    assert facts.gps is None or -90 <= facts.gps.lat <= 90
