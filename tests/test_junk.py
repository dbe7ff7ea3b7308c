"""`imgcat junk`: categories, scores and reasons from the catalog's measures; options, presets, output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageFilter

from clirun import imgcat
from conftest import full_record, make_record
from imgcat.catalog.base import Catalog, JunkEntry, JunkQuery
from imgcat.cli import render
from imgcat.operations.add import add_folder
from imgcat.operations.junk import JunkRequest, find_junk, junk_query
from imgcat.policy.junk import CATEGORIES, PRESETS, JunkThresholds, judge, parse_junk_settings
from imgcat.policy.rules import PolicyError
from imgcat.record import ExtractError, MediaRecord
from media import MEDIA, copy_media

DEFAULT = PRESETS["default"]
# Real files: a black frame, a 1x1 picture, a uniform grey frame, an out-of-focus shot, a sharp
# photo, a dark night street, a truncated JPEG, a 0.2 s and a 0.5 s video, a 49x500 strip, a screenshot.
FILES = (
    "sony_dsc_p12/Sony DSC-P12.jpg",
    "odd_exif/Issue 508.jpg",
    "samsung_galaxy_s7/67-0_length_string.jpg",
    "canon_powershot_s330/Canon PowerShot S330.jpg",
    "nikon_coolpix_p6000/DSCN0010.jpg",
    "canon_powershot_s400/Canon PowerShot S400.jpg",
    "odd_exif/User Comment Encoding.jpg",
    "misc_video/with-gps.mp4",
    "sony_ilce_7m3/Sony ILCE-7M3 (A7M3).mts",
    "broken/image01713.jpg",
    "screenshots/Screenshot 2019-05-21 at 10.45.52.png",
)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_media(tmp_path / "photos", *FILES)
    monkeypatch.setenv("IMGCAT_DB", str(tmp_path / "catalog.sqlite"))
    monkeypatch.setenv("IMGCAT_DEVICE", "laptop")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return root


def _added(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    assert imgcat(capsys, "add", "-r", "-q", "--workers", "0", str(root)).code == 0


def test_real_junk_is_listed_worst_first_with_a_reason_and_good_photos_are_not(
    capsys: pytest.CaptureFixture[str], tree: Path
) -> None:
    _added(capsys, tree)
    run = imgcat(capsys, "junk", str(tree), "--json")
    assert run.code == 0, run.err
    candidates = json.loads(run.out)["candidates"]
    found = {Path(c["path"]).relative_to(tree).as_posix(): c for c in candidates}
    assert {k: v["category"] for k, v in found.items()} == {
        "sony_dsc_p12/Sony DSC-P12.jpg": "dark",
        "odd_exif/Issue 508.jpg": "tiny",
        "samsung_galaxy_s7/67-0_length_string.jpg": "blank",
        "canon_powershot_s330/Canon PowerShot S330.jpg": "blurry",
        "odd_exif/User Comment Encoding.jpg": "broken",
        "misc_video/with-gps.mp4": "very-short",
        "sony_ilce_7m3/Sony ILCE-7M3 (A7M3).mts": "very-short",
        "broken/image01713.jpg": "tiny",
    }
    assert [c["score"] for c in candidates] == sorted((c["score"] for c in candidates), reverse=True)
    assert all(
        set(c) >= {"path", "category", "score", "reason"} and 0.5 <= c["score"] <= 1 for c in candidates
    )
    assert found["sony_dsc_p12/Sony DSC-P12.jpg"]["reason"] == "100 % of pixels black, mean brightness 0 %"
    assert found["odd_exif/Issue 508.jpg"]["reason"] == "only 1x1 pixels"
    assert found["misc_video/with-gps.mp4"]["reason"] == "lasts only 0.2 s"
    assert found["odd_exif/User Comment Encoding.jpg"]["reason"].startswith(
        "damaged: image file is truncated"
    )


def test_category_and_min_score_narrow_the_list(capsys: pytest.CaptureFixture[str], tree: Path) -> None:
    _added(capsys, tree)
    run = imgcat(capsys, "junk", str(tree), "--json", "--category", "blurry", "-c", "very-short")
    assert {c["category"] for c in json.loads(run.out)["candidates"]} == {"blurry", "very-short"}
    run = imgcat(capsys, "junk", str(tree), "--json", "--min-score", "0.9")
    scores = [c["score"] for c in json.loads(run.out)["candidates"]]
    assert scores and min(scores) >= 0.9
    assert imgcat(capsys, "junk", str(tree / "nikon_coolpix_p6000"), "--json").out.count('"path"') == 0


def test_a_pipe_gets_one_tab_separated_row_per_candidate(
    capsys: pytest.CaptureFixture[str], tree: Path
) -> None:
    _added(capsys, tree)
    run = imgcat(capsys, "junk", str(tree), "--category", "tiny")
    assert run.out == (
        f"1.00\ttiny\tonly 1x1 pixels\t{tree / 'odd_exif/Issue 508.jpg'}\n"
        f"0.76\ttiny\tonly 49x500 pixels\t{tree / 'broken/image01713.jpg'}\n"
    )


def test_an_empty_catalog_an_uncataloged_folder_and_a_typo_each_say_what_is_wrong(
    capsys: pytest.CaptureFixture[str], tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = imgcat(capsys, "junk")
    assert (run.code, run.out, run.err) == (
        0, "", "the catalog holds no files of device laptop yet: 'imgcat add DIR' catalogs a folder\n"
    )  # fmt: skip
    _added(capsys, tree)
    elsewhere = tmp_path / "new photos"
    elsewhere.mkdir()
    run = imgcat(capsys, "junk", str(elsewhere), "--json")
    assert json.loads(run.out)["candidates"] == []
    assert run.err == (
        f"nothing is cataloged under {elsewhere} (of device laptop): "
        f"'imgcat add -r '{elsewhere}'' catalogs it\n"
    )
    good = tree / "nikon_coolpix_p6000"
    run = imgcat(capsys, "junk", str(good))  # cataloged, and nothing in it is junk: a pipe gets no row
    assert (run.code, run.out, run.err) == (0, "", "")
    with monkeypatch.context() as terminal:
        terminal.setattr(render, "is_terminal", lambda: True)
        run = imgcat(capsys, "junk", str(good))
    assert (run.code, run.out, run.err) == (0, f"no junk among 1 cataloged file under {good}\n", "")
    run = imgcat(capsys, "junk", str(tmp_path / "phtoos"))
    assert (run.code, run.err.splitlines()[0]) == (
        2, f"error: not a folder, and nothing is cataloged under it on device laptop: {tmp_path / 'phtoos'} "
        "(--device names another device)",
    )  # fmt: skip
    unplugged = tmp_path / "unplugged"
    tree.rename(unplugged)  # the disk is gone: its junk is still listed from the catalog
    run = imgcat(capsys, "junk", str(tree), "--category", "tiny")
    assert run.code == 0 and run.out.count("\ttiny\t") == 2


def test_strict_finds_more_lenient_fewer_and_the_config_file_changes_them(
    capsys: pytest.CaptureFixture[str], tree: Path, tmp_path: Path
) -> None:
    _added(capsys, tree)

    def listed(*options: str) -> set[str]:
        run = imgcat(capsys, "junk", str(tree), "--json", *options)
        assert run.code == 0, run.err
        return {c["path"] for c in json.loads(run.out)["candidates"]}

    default, strict, lenient = listed(), listed("--strict"), listed("--lenient")
    assert lenient < default <= strict
    config = tmp_path / "config" / "imgcat" / "policies.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[junk]\nblurry-edge-width = 0.3\n\n[junk.lenient]\ntiny-pixels = 2\n")
    assert len(listed()) > len(default)  # every photo's edges are wider than 0.3
    assert str(tree / "odd_exif/Issue 508.jpg") in listed("--lenient")  # 1 pixel < 2
    assert listed("--strict") == strict


def test_bad_options_and_a_bad_config_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tree: Path, tmp_path: Path
) -> None:
    run = imgcat(capsys, "junk", "--category", "fuzzy")
    assert (run.code, run.err.splitlines()[0]) == (
        2,
        f"error: unknown category 'fuzzy' (known: {', '.join(CATEGORIES)})",
    )
    run = imgcat(capsys, "junk", "--strict", "--lenient")
    assert (run.code, run.err.splitlines()[0]) == (2, "error: --strict and --lenient exclude each other")
    run = imgcat(capsys, "junk", "--min-score", "2")
    assert (run.code, run.err.splitlines()[0]) == (
        2,
        "error: --min-score expects a number between 0 and 1, not 2",
    )
    config = tmp_path / "config" / "imgcat" / "policies.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[junk]\nblury-edge-width = 1\n")
    run = imgcat(capsys, "junk")
    assert run.code == 2 and run.err.startswith(f"error: {config}: junk: unknown setting 'blury-edge-width'")


def test_the_config_file_keeps_named_policies_beside_junk_presets(tree: Path, tmp_path: Path) -> None:
    from imgcat.policy.config import parse_policies

    text = "[policy.backup]\nkeep-copies = 2\n\n[junk.strict]\ndark-brightness = 0.1\n"
    assert parse_policies(text)["backup"].keep_copies == 2
    assert parse_junk_settings(text)["strict"].dark_brightness == 0.1
    with pytest.raises(PolicyError, match="must be a number"):
        parse_junk_settings("[junk]\nblank-contrast = 'low'\n")
    with pytest.raises(PolicyError, match="must be a whole number"):
        parse_junk_settings("[junk]\ntiny-pixels = 0.5\n")


def test_a_metadata_glitch_is_not_a_broken_picture_and_a_decoder_error_is() -> None:
    exif_only = make_record("/p/a.jpg", errors=(ExtractError("exif", "bad offset"),), contrast=0.2)
    assert judge(exif_only, DEFAULT) == ()
    raw = make_record("/p/a.cr2", format="cr2", errors=(ExtractError("preview", "no embedded JPEG preview"),))
    assert judge(raw, DEFAULT) == ()
    cut = make_record("/p/a.heic", errors=(ExtractError("container", "file ends at 60 %"),))
    assert [(f.category, f.score, f.reason) for f in judge(cut, DEFAULT)] == [
        ("broken", 1.0, "damaged: file ends at 60 %")
    ]


def test_screenshots_are_never_dark_overexposed_or_blurry_but_photos_are() -> None:
    def measured(path: str, image_format: str, make: str | None = None) -> MediaRecord:
        return make_record(path, format=image_format, make=make, brightness=0.02, contrast=0.01,
                           clipped_dark=0.95, edge_width=1.2)  # fmt: skip

    screenshot = measured("/p/shot.png", "png")
    photo = measured("/p/shot.jpg", "jpeg")
    scan = measured("/p/scan.png", "png", "Canon")
    assert [f.category for f in judge(screenshot, DEFAULT)] == ["blank"]
    assert {f.category for f in judge(photo, DEFAULT)} == {"dark", "blurry", "blank"}
    assert "dark" in {f.category for f in judge(scan, DEFAULT)}


def test_a_night_scene_with_lights_is_not_dark_a_black_frame_is() -> None:
    night = make_record("/p/night.jpg", brightness=0.03, contrast=0.09, clipped_dark=0.6, edge_width=0.5)
    black = make_record("/p/cap.jpg", brightness=0.003, contrast=0.002, clipped_dark=1.0)
    assert judge(night, DEFAULT) == ()
    findings = judge(black, DEFAULT)
    assert [f.category for f in findings] == ["dark", "blank"]  # a tie of scores: dark is told first
    assert findings[0].score == 0.96


def test_scores_rise_from_the_threshold_to_the_extreme() -> None:
    t = JunkThresholds()
    at = make_record("/p/a.jpg", edge_width=t.blurry_edge_width)
    twice = make_record("/p/b.jpg", edge_width=2 * t.blurry_edge_width)
    assert (judge(at, t)[0].score, judge(twice, t)[0].score) == (0.5, 1.0)
    video = make_record("/p/c.mp4", kind="video", format="mp4", duration_s=0.25)
    assert [(f.category, f.score) for f in judge(video, t)] == [("very-short", 0.88)]


def test_junk_candidates_filter_in_the_store(store: Catalog) -> None:
    records = [
        make_record("/p/sharp.jpg", brightness=0.5, contrast=0.2, edge_width=0.5, display_width=4000,
                    display_height=3000),
        make_record("/p/soft.jpg", brightness=0.5, contrast=0.2, edge_width=0.9, display_width=4000,
                    display_height=3000),
        make_record("/p/icon.png", display_width=64, display_height=64, contrast=0.3, brightness=0.5),
        make_record("/p/cut.jpg", errors=(ExtractError("pixels", "truncated"),)),
        make_record("/p/clip.mp4", kind="video", duration_s=0.4),
        make_record("/q/soft.jpg", edge_width=0.9),
        make_record("/p/other.jpg", device="phone", edge_width=0.9),
    ]  # fmt: skip
    store.upsert_many(records)
    request = JunkRequest(DEFAULT, device="laptop", prefix="/p")
    found = {r.path for r in store.junk_candidates(junk_query(request))}
    assert found == {"/p/soft.jpg", "/p/icon.png", "/p/cut.jpg", "/p/clip.mp4"}
    only_blur = JunkRequest(DEFAULT, frozenset({"blurry"}))
    assert {(r.device, r.path) for r in store.junk_candidates(junk_query(only_blur))} == {
        ("laptop", "/p/soft.jpg"), ("laptop", "/q/soft.jpg"), ("phone", "/p/other.jpg")
    }  # fmt: skip
    assert list(store.junk_candidates(JunkQuery(device="laptop"))) == []  # no condition: nothing
    report = find_junk(store, request)
    assert [(c.record.path, c.category) for c in report.candidates] == [
        ("/p/cut.jpg", "broken"), ("/p/icon.png", "tiny"), ("/p/clip.mp4", "very-short"),
        ("/p/soft.jpg", "blurry"),
    ]  # fmt: skip


def test_add_then_junk_reads_no_picture_again(
    capsys: pytest.CaptureFixture[str], tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _added(capsys, tree)
    from PIL import Image

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("junk decoded a picture")

    monkeypatch.setattr(Image, "open", refuse)
    assert imgcat(capsys, "junk", str(tree)).code == 0


def test_entries_of_an_older_add_are_judged_on_what_they_have_and_measured_on_the_next_add(
    tmp_path: Path, store: Catalog
) -> None:
    root = copy_media(
        tmp_path / "p", "canon_powershot_s330/Canon PowerShot S330.jpg", "sony_dsc_p12/Sony DSC-P12.jpg"
    )
    add_folder(store, str(root), device="laptop", recursive=True, workers=0)
    older = [replace(r, edge_width=None, extractor_version=r.extractor_version - 1)
             for r in store.iter_under("laptop", str(root))]  # fmt: skip
    store.upsert_many(older)  # as an imgcat from before the edge width left them
    report = find_junk(store, JunkRequest(DEFAULT, device="laptop"))
    assert [Path(c.record.path).name for c in report.candidates] == ["Sony DSC-P12.jpg"]
    again = add_folder(store, str(root), device="laptop", recursive=True, workers=0)
    assert (again.updated, again.unchanged) == (2, 0)  # read again: an older extractor's entries
    report = find_junk(store, JunkRequest(DEFAULT, device="laptop"))
    assert [(Path(c.record.path).name, c.category) for c in report.candidates] == [
        ("Sony DSC-P12.jpg", "dark"), ("Canon PowerShot S330.jpg", "blurry")
    ]  # fmt: skip


def test_a_video_cut_short_is_broken_and_says_where_it_ends(tmp_path: Path, store: Catalog) -> None:
    root = copy_media(tmp_path / "v", "iphone_6/with-gps.mov", "canon_video/MVI_4823.AVI")
    for video in root.rglob("*.*"):
        data = video.read_bytes()
        video.write_bytes(data[: len(data) * 6 // 10])
    add_folder(store, str(root), device="laptop", recursive=True, workers=0)
    report = find_junk(store, JunkRequest(DEFAULT, device="laptop"))
    assert {(Path(c.record.path).name, c.category, c.score) for c in report.candidates} == {
        ("with-gps.mov", "broken", 1.0), ("MVI_4823.AVI", "broken", 1.0)
    }  # fmt: skip
    assert all(c.reason.startswith("damaged: cut short: ") for c in report.candidates)


def test_a_blurred_frame_of_a_burst_with_a_sharp_frame_is_a_surer_candidate_than_judged_alone(
    store: Catalog, tmp_path: Path
) -> None:
    burst = copy_media(tmp_path / "burst", "nikon_d70s/Issue 247-2.nef", "nikon_d70s/Issue 247-3.nef")
    frame = burst / "nikon_d70s" / "Issue 247-3.nef"  # a JPEG named .nef, 2.7 s after 247-2
    with Image.open(frame) as image:
        exif = image.info["exif"]  # the capture time stays: it dates the frame in its burst
        blurred = image.filter(ImageFilter.GaussianBlur(10))
    blurred.save(frame, "JPEG", quality=90, exif=exif)
    copied = tmp_path / "elsewhere" / "Issue 247-3.nef"  # out of its burst's folder: a near-duplicate
    copied.parent.mkdir()
    copied.write_bytes(frame.read_bytes())
    add_folder(store, str(tmp_path), device="laptop", recursive=True, workers=0)
    report = find_junk(store, JunkRequest(DEFAULT, frozenset({"blurry"}), device="laptop"))
    found = {c.record.path: c for c in report.candidates}
    assert set(found) == {str(frame), str(copied)}
    in_burst, elsewhere = found[str(frame)], found[str(copied)]
    (alone,) = judge(in_burst.record, DEFAULT, frozenset({"blurry"}))
    assert in_burst.score == round(alone.score + (1 - alone.score) / 2, 2) > alone.score
    assert (in_burst.reason, in_burst.group) == (
        f"{alone.reason}; Issue 247-2.nef of the same burst is sharp",
        "burst",
    )
    assert (elsewhere.reason, elsewhere.group) == (
        f"{alone.reason}; Issue 247-2.nef, a near-duplicate, is sharp",
        "near-duplicate",
    )


def test_a_blurred_copy_whose_sharp_original_is_elsewhere_is_a_surer_candidate_than_a_lone_one(
    store: Catalog, tmp_path: Path
) -> None:
    original = copy_media(tmp_path / "originals", "nikon_coolpix_p6000/DSCN0010.jpg") / "nikon_coolpix_p6000"
    exports = tmp_path / "exports"
    exports.mkdir()
    made = (
        (original / "DSCN0010.jpg", "shared.jpg", 2),
        (MEDIA / "iphone_5/Apple iPhone 5.jpg", "lone.jpg", 10),
    )
    for source, name, radius in made:  # blurred short of the extreme (640x480 and 2448x3264 pixels)
        with Image.open(source) as image:  # an export keeps the EXIF: its capture time finds its group
            exif = image.info["exif"]
            blurred = image.convert("RGB").filter(ImageFilter.GaussianBlur(radius))
        blurred.save(exports / name, "JPEG", quality=90, exif=exif)
    add_folder(store, str(tmp_path), device="laptop", recursive=True, workers=0)
    report = find_junk(store, JunkRequest(DEFAULT, frozenset({"blurry"}), device="laptop"))
    found = {Path(c.record.path).name: c for c in report.candidates}
    assert set(found) == {"shared.jpg", "lone.jpg"}
    copy, lone = found["shared.jpg"], found["lone.jpg"]
    assert copy.sharp_sibling is not None and copy.sharp_sibling.path == str(original / "DSCN0010.jpg")
    assert copy.group == "near-duplicate" and lone.sharp_sibling is None
    (alone,) = judge(copy.record, DEFAULT, frozenset({"blurry"}))
    assert copy.score == round(alone.score + (1 - alone.score) / 2, 2) > alone.score
    assert copy.reason == f"{alone.reason}; DSCN0010.jpg, a near-duplicate, is sharp"


def test_shots_around_a_moment_come_from_one_folder_in_capture_order(store: Catalog) -> None:
    moment = datetime(2020, 5, 1, 12, 0, 0)
    store.upsert_many(
        [make_record(f"/p/IMG_{i}.jpg", captured_at=moment + timedelta(seconds=3 * i)) for i in range(-3, 4)]
        + [
            make_record("/p/sub/IMG_0.jpg", captured_at=moment),
            make_record("/q/IMG_0.jpg", captured_at=moment),
        ]
        + [make_record("/p/IMG_x.jpg", device="phone", captured_at=moment)]
    )
    shots = store.captured_between(
        "laptop", "/p", moment - timedelta(seconds=5), moment + timedelta(seconds=6)
    )
    assert [r.path for r in shots] == ["/p/IMG_-1.jpg", "/p/IMG_0.jpg", "/p/IMG_1.jpg", "/p/IMG_2.jpg"]
    anywhere = store.captured_between("laptop", None, moment, moment)  # every folder of the device
    assert sorted(r.path for r in anywhere) == ["/p/IMG_0.jpg", "/p/sub/IMG_0.jpg", "/q/IMG_0.jpg"]


def test_a_blurred_pictures_group_is_looked_up_around_it_never_across_a_folder_or_the_catalog(
    store: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    noon = datetime(2020, 5, 1, 12, 0, 0)
    two = noon + timedelta(hours=2)
    blurred = [noon, noon + timedelta(seconds=4), noon + timedelta(hours=1), two]
    store.upsert_many(
        [make_record(f"/p/B{i}.jpg", captured_at=t, phash=1, edge_width=1.0) for i, t in enumerate(blurred)]
        + [make_record(f"/p/S{i}.jpg", captured_at=noon + timedelta(minutes=i), phash=1, edge_width=0.5)
           for i in range(100)]
        + [make_record("/q/copy.jpg", captured_at=two + timedelta(seconds=30), phash=3, edge_width=0.5),
           make_record("/q/late.jpg", captured_at=two + timedelta(seconds=90), phash=1, edge_width=0.4),
           make_record("/q/other.jpg", captured_at=two, phash=1 << 40 | 0xFF, edge_width=0.4)]
    )  # fmt: skip
    asked: list[tuple[str | None, datetime, datetime]] = []
    real = store.captured_between

    def recorded(device: str, folder: str | None, start: datetime, end: datetime) -> Iterator[JunkEntry]:
        asked.append((folder, start, end))
        return real(device, folder, start, end)

    monkeypatch.setattr(store, "captured_between", recorded)
    report = find_junk(store, JunkRequest(DEFAULT, frozenset({"blurry"})))
    minute = timedelta(minutes=1)
    assert sorted(asked, key=lambda a: a[1]) == [
        (None, noon - minute, blurred[1] + minute),  # two frames 4 s apart: one query
        (None, blurred[2] - minute, blurred[2] + minute),
        (None, two - minute, two + minute),
    ]
    found = {c.record.path: (c.sharp_sibling and c.sharp_sibling.path, c.group) for c in report.candidates}
    assert found == {
        "/p/B0.jpg": ("/p/S0.jpg", "burst"), "/p/B1.jpg": ("/p/S0.jpg", "burst"),
        "/p/B2.jpg": ("/p/S60.jpg", "burst"), "/p/B3.jpg": ("/q/copy.jpg", "near-duplicate"),
    }  # fmt: skip


def test_a_junk_entry_holds_the_records_own_values(store: Catalog) -> None:
    record = replace(full_record("/p/\udcff-odd name.jpg"), edge_width=1.5)  # a name that is not UTF-8
    store.upsert_many([record])
    (entry,) = store.junk_candidates(JunkQuery(edge_width_at_least=1.0))
    assert entry == JunkEntry(*(getattr(record, name) for name in JunkEntry._fields))
    assert (entry.dir, entry.name) == (record.dir, record.name)
