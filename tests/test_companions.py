"""Files that make one photo: Live Photo halves, RAW+JPEG twins, sidecars — linked, never lost."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import piexif
from PIL import Image

from conftest import make_record
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.operations.add import add_folder
from imgcat.record import Companion
from imgcat.scan.companions import link_companions, relink_companions
from media import MEDIA


def _jpeg_taken_at(target: Path, when: str) -> None:
    """A JPEG re-saved from a real photo, with its DateTimeOriginal set to `when`."""
    source = MEDIA / "nikon_coolpix_p6000" / "DSCN0010.jpg"
    exif = piexif.load(str(source))
    exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = when.encode()
    exif.pop("thumbnail", None)
    exif["1st"] = {}
    with Image.open(source) as image:
        image.save(target, quality=85, exif=piexif.dump(exif))


def test_live_photo_raw_twin_and_sidecars_are_linked(tmp_path: Path) -> None:
    folder = tmp_path / "DCIM"
    folder.mkdir()
    shutil.copy(MEDIA / "iphone_11_pro" / "IMG_2927.HEIC", folder / "IMG_2927.HEIC")
    shutil.copy(MEDIA / "iphone_6" / "with-gps.mov", folder / "IMG_2927.MOV")
    (folder / "IMG_2927.AAE").write_text("<plist/>")
    shutil.copy(MEDIA / "raw_exiftool" / "Nikon.nef", folder / "DSC_0001.NEF")
    _jpeg_taken_at(folder / "DSC_0001.JPG", "2004:06:09 16:02:36")  # the NEF was shot at 16:02:35
    (folder / "DSC_0001.xmp").write_text("<x:xmpmeta/>")
    shutil.copy(MEDIA / "raw_exiftool" / "Nikon.nef", folder / "DSC_0002.NEF")
    _jpeg_taken_at(folder / "DSC_0002.JPG", "2004:06:09 18:00:00")  # same name, hours apart: no twin
    (folder / "DSC_0001.JPG.json").write_text("{}")  # Google Takeout metadata

    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(tmp_path), device="d", recursive=True, workers=0)

    def companions(name: str) -> set[Companion]:
        record = catalog.get("d", str(folder / name))
        assert record is not None, name
        return set(record.companions)

    assert companions("IMG_2927.HEIC") == {
        Companion("live_video", str(folder / "IMG_2927.MOV")),
        Companion("sidecar", str(folder / "IMG_2927.AAE")),
    }
    assert companions("IMG_2927.MOV") == {Companion("live_still", str(folder / "IMG_2927.HEIC"))}
    assert companions("DSC_0001.NEF") == {
        Companion("jpeg", str(folder / "DSC_0001.JPG")),
        Companion("sidecar", str(folder / "DSC_0001.xmp")),
    }
    assert companions("DSC_0001.JPG") == {
        Companion("raw", str(folder / "DSC_0001.NEF")),
        Companion("sidecar", str(folder / "DSC_0001.JPG.json")),
    }
    assert companions("DSC_0002.NEF") == set()
    assert catalog.count() == 6  # sidecars are kept with their file, not cataloged as media


def test_a_new_file_links_to_its_cataloged_twin(tmp_path: Path) -> None:
    folder = tmp_path / "DCIM"
    folder.mkdir()
    shutil.copy(MEDIA / "iphone_11_pro" / "IMG_2927.HEIC", folder / "IMG_2927.HEIC")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(tmp_path), device="d", recursive=True, workers=0)
    shutil.copy(MEDIA / "iphone_6" / "with-gps.mov", folder / "IMG_2927.MOV")
    add_folder(catalog, str(tmp_path), device="d", recursive=True, workers=0)
    still = catalog.get("d", str(folder / "IMG_2927.HEIC"))
    assert still is not None
    assert still.companions == (Companion("live_video", str(folder / "IMG_2927.MOV")),)


def test_a_sidecar_that_comes_or_goes_beside_an_unchanged_photo_is_relinked(tmp_path: Path) -> None:
    folder = tmp_path / "DCIM"
    folder.mkdir()
    shutil.copy(MEDIA / "raw_exiftool" / "Nikon.nef", folder / "DSC_0001.NEF")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(tmp_path), device="d", recursive=True, workers=0)
    (folder / "DSC_0001.xmp").write_text("<x:xmpmeta/>")  # developed later in Lightroom
    (folder / "notes.json").write_text("{}")  # named after nothing: never relinked for

    again = add_folder(catalog, str(tmp_path), device="d", recursive=True, workers=0)
    raw = catalog.get("d", str(folder / "DSC_0001.NEF"))
    assert raw is not None and raw.companions == (Companion("sidecar", str(folder / "DSC_0001.xmp")),)
    assert again.files_read == 0 and again.unchanged == 1

    (folder / "DSC_0001.xmp").unlink()
    add_folder(catalog, str(tmp_path), device="d", recursive=True, workers=0)
    raw = catalog.get("d", str(folder / "DSC_0001.NEF"))
    assert raw is not None and raw.companions == ()


def test_relinking_keeps_live_photo_pairs_made_by_content_identifier() -> None:
    still = make_record("/p/IMG_0001.HEIC", format="heic")
    video = make_record("/p/clip.mov", kind="video", format="mov")
    [still, video] = link_companions([still, video], [], {still.path: "A1", video.path: "A1"})
    assert still.companions == (Companion("live_video", video.path),)

    assert relink_companions([still, video], ["/p/IMG_0001.xmp"]) == [
        replace(
            still, companions=(Companion("live_video", video.path), Companion("sidecar", "/p/IMG_0001.xmp"))
        ),
        video,
    ]
    assert relink_companions([still], []) == [replace(still, companions=())]  # its video is gone


def test_a_live_photo_paired_by_content_identifier_stays_paired_when_files_come_or_change(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "DCIM"
    folder.mkdir()
    shutil.copy(MEDIA / "iphone_11_pro" / "IMG_2927.HEIC", folder / "IMG_2927.HEIC")
    shutil.copy(MEDIA / "iphone_6" / "with-gps.mov", folder / "clip.mov")
    catalog = SqliteCatalog(tmp_path / "c.sqlite")
    add_folder(catalog, str(tmp_path), device="d", recursive=True, workers=0)
    still, video = catalog.get("d", str(folder / "IMG_2927.HEIC")), catalog.get("d", str(folder / "clip.mov"))
    assert still is not None and video is not None
    # as the scanner pairs halves whose names differ, by the identifier Apple writes in both
    catalog.upsert_many(
        [
            replace(still, companions=(Companion("live_video", video.path),)),
            replace(video, companions=(Companion("live_still", still.path),)),
        ]
    )
    _jpeg_taken_at(folder / "IMG_2927.JPG", "2020:05:04 18:39:11")  # an export beside the still
    video_file = folder / "clip.mov"
    os.utime(video_file, ns=(video_file.stat().st_atime_ns, video_file.stat().st_mtime_ns + 10**9))
    add_folder(catalog, str(tmp_path), device="d", recursive=True, workers=0)  # reads the JPG and the MOV

    still, video = catalog.get("d", str(folder / "IMG_2927.HEIC")), catalog.get("d", str(folder / "clip.mov"))
    assert still is not None and Companion("live_video", str(folder / "clip.mov")) in still.companions
    assert video is not None and video.companions == (Companion("live_still", still.path),)
