"""One file in, one record out: detect, hash, read metadata, fingerprint — never raising for bad input.

An image is read from disk once (whole, up to WHOLE_READ_LIMIT): the checksum, the metadata and the
pixels all come from that one buffer. Videos are hashed in chunks and parsed by mediainfo.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

import pillow_heif
from PIL import Image, UnidentifiedImageError

from imgcat.record import ExtractError, MediaRecord
from imgcat.scan.bmff import primary_image_size
from imgcat.scan.checksum import content_checksum
from imgcat.scan.containers import BytesSource, FileSource, check_container
from imgcat.scan.detect import HEAD_BYTES, RAW_FORMATS, Detected, detect
from imgcat.scan.exif import PhotoFacts, photo_facts, xmp_capture_time
from imgcat.scan.names import with_guessed_capture_time
from imgcat.scan.pixels import PixelFacts, pixel_facts, work_image
from imgcat.scan.raw import read_raw
from imgcat.scan.reading import EXTRACTOR_VERSION, Extraction, FileStat
from imgcat.scan.tiff import TiffTags, read_tiff
from imgcat.scan.video import mdpm_capture_time, video_facts
from imgcat.scan.video_tags import container_facts

CONTENT_ID_MAX: Final = 128
WHOLE_READ_LIMIT: Final = 256 * 1024 * 1024
MDPM_SEARCH: Final = 2 * 1024 * 1024  # camcorders write their SEI date in the first frames

pillow_heif.register_heif_opener()
Image.MAX_IMAGE_PIXELS = 400_000_000  # large panoramas are photos too; beyond this, a bomb


class FileChangedError(Exception):
    """The file changed while it was being read."""


def extract_file(stat: FileStat, device: str, now: datetime) -> Extraction:
    """Read one file into a record. Bad content becomes `errors` on the record; an unreadable or
    vanished file becomes `skipped`. Never raises for anything the file holds."""
    try:
        return _extract(stat, device, now)
    except FileNotFoundError:
        return Extraction(stat, skipped="vanished before it could be read")
    except FileChangedError:
        return Extraction(stat, skipped="changed while being read; it will be read on the next run")
    except OSError as error:
        return Extraction(stat, skipped=f"cannot read: {error.strerror or error}")


def _extract(stat: FileStat, device: str, now: datetime) -> Extraction:
    with open(stat.path, "rb") as file:
        head = file.read(HEAD_BYTES)
        ext = os.path.splitext(stat.path)[1].lstrip(".")
        detected = detect(head, ext)
        if detected is None:
            return Extraction(stat, not_media=True)
        whole = detected.kind == "image" and stat.size <= WHOLE_READ_LIMIT
        if whole:
            file.seek(0)
            data = file.read()  # one buffer for the checksum, the metadata and the pixels
            checksum = content_checksum(data)
        else:
            data, checksum = b"", content_checksum(head, file)
        # the container against its own declared sizes: a few header reads, never the frames
        container = check_container(
            detected.format, BytesSource(data) if whole else FileSource(file.fileno(), stat.size)
        )
    after = os.stat(stat.path)
    if (after.st_size, after.st_mtime_ns) != (stat.size, stat.mtime_ns) or (whole and len(data) != stat.size):
        raise FileChangedError(stat.path)
    base = MediaRecord(
        device=device,
        path=stat.path,
        size=stat.size,
        mtime_ns=stat.mtime_ns,
        inode=stat.inode,
        checksum=checksum,
        kind=detected.kind,
        format=detected.format,
        mime=detected.mime,
        ext_mismatch=detected.ext_mismatch,
        scanned_at=now,
        first_seen=now,
        extractor_version=EXTRACTOR_VERSION,
    )
    if detected.kind == "video":
        record, content_id = _video_record(base)
    else:
        record, content_id = _image_record(base, detected, data, pixels_intact=container.pixels_intact)
    if container.problem is not None:  # first: what the other errors follow from
        record = replace(record, errors=(ExtractError("container", container.problem), *record.errors))
    if content_id is not None:
        record = replace(record, content_id=_content_id(content_id))
    return Extraction(stat, with_guessed_capture_time(record))


def _content_id(text: str | None) -> str | None:
    """Apple's Live Photo identifier (a UUID), as text fit to store and compare."""
    cleaned = (text or "").strip()[:CONTENT_ID_MAX]
    return cleaned or None


def _image_record(
    base: MediaRecord, detected: Detected, data: bytes, *, pixels_intact: bool = True
) -> tuple[MediaRecord, str | None]:
    """The photo's record. When the container says the picture's own data is cut (`pixels_intact`
    false, HEIF/AVIF), nothing is decoded: hashes of half a picture would pair it with strangers."""
    errors: list[ExtractError] = []
    tags = TiffTags()
    picture: bytes | None = data
    if detected.format in RAW_FORMATS:
        contents = read_raw(data, detected.format)
        tags, picture = contents.tags, contents.preview
    image = _open(picture, errors)
    size = None if image is None else image.size  # before draft() shrinks it
    if picture is None and detected.format in RAW_FORMATS and not tags.problems:
        errors.append(ExtractError("preview", "no embedded JPEG preview"))
    upright_orientation: int | None = None
    if image is not None and detected.format not in RAW_FORMATS:
        tags = _embedded_tags(image, detected.format, data)
        turned = image.info.get("original_orientation")  # pillow-heif hands pixels over upright
        upright_orientation = turned if isinstance(turned, int) else None
    facts = _with_xmp_time(photo_facts(tags), image)
    errors.extend(ExtractError("exif", problem) for problem in tags.problems[:1])
    pixels: PixelFacts | None = None
    if image is not None and (pixels_intact or detected.format not in ("heic", "avif")):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gray = work_image(image, None if upright_orientation else facts.orientation)
            pixels = pixel_facts(gray)
            if pixels.missing_share:
                errors.append(ExtractError("pixels", _data_ends_early(pixels.missing_share)))
        except _IMAGE_ERRORS as error:
            errors.append(ExtractError("pixels", _reason(error)))
    orientation = upright_orientation or facts.orientation
    stored = primary_image_size(data) if detected.format in ("heic", "avif") else None
    width, height = _stored_size(detected, facts, size, orientation, stored)
    return _photo(base, facts, pixels, width, height, orientation, errors), facts.content_id


def _with_xmp_time(facts: PhotoFacts, image: Image.Image | None) -> PhotoFacts:
    """Without an EXIF date, the XMP packet's (PNGs and edited files often carry only that)."""
    if facts.captured_at is not None or image is None:
        return facts
    xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if not isinstance(xmp, bytes | str):
        return facts
    captured_at, offset = xmp_capture_time(xmp)
    return replace(facts, captured_at=captured_at, captured_offset=offset)


_IMAGE_ERRORS: Final = (OSError, ValueError, SyntaxError, Image.DecompressionBombError, RuntimeError)


def _open(picture: bytes | None, errors: list[ExtractError]) -> Image.Image | None:
    if picture is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Image.open(io.BytesIO(picture))
    except _IMAGE_ERRORS as error:
        errors.append(ExtractError("image", _reason(error)))
        return None


def _embedded_tags(image: Image.Image, image_format: str, data: bytes) -> TiffTags:
    if image_format == "tiff":
        return read_tiff(data)
    blob = image.info.get("exif")
    if isinstance(blob, bytes) and blob:
        return read_tiff(blob)
    return TiffTags()


def _stored_size(
    detected: Detected,
    facts: PhotoFacts,
    size: tuple[int, int] | None,
    orientation: int | None,
    stored: tuple[int, int] | None,
) -> tuple[int | None, int | None]:
    """Dimensions as stored, before orientation (what EXIF readers report)."""
    if detected.format == "raf" and size is not None:
        return size  # a RAF's embedded JPEG is the camera's picture at full size
    if detected.format in RAW_FORMATS:
        if facts.width and facts.height:
            return facts.width, facts.height
        return size or (None, None)
    if size is None:
        return facts.width, facts.height
    if detected.format in ("heic", "avif"):  # pillow-heif hands over pixels already turned
        return stored or ((size[1], size[0]) if orientation in (5, 6, 7, 8) else size)
    return size


def _photo(
    base: MediaRecord,
    facts: PhotoFacts,
    pixels: PixelFacts | None,
    width: int | None,
    height: int | None,
    orientation: int | None,
    errors: list[ExtractError],
) -> MediaRecord:
    fields: dict[str, Any] = dict(  # Any: each value is checked by MediaRecord itself
        _size_fields(width, height, turned=orientation in (5, 6, 7, 8)),
        orientation=orientation,
        captured_at=facts.captured_at,
        captured_offset=facts.captured_offset,
        captured_source="exif" if facts.captured_at else None,
        make=facts.make,
        model=facts.model,
        lens=facts.lens,
        software=facts.software,
        gps=facts.gps,
        errors=tuple(errors),
    )
    if pixels is not None:
        fields.update(_pixel_fields(pixels))
    return replace(base, **fields)  # one replace: each one builds and checks the whole record again


def _pixel_fields(pixels: PixelFacts) -> dict[str, Any]:
    return dict(
        phash=pixels.fingerprint.phash,
        dhash=pixels.fingerprint.dhash,
        phash_centre=pixels.fingerprint.phash_centre,
        phash_left=pixels.fingerprint.phash_left,
        phash_right=pixels.fingerprint.phash_right,
        phash_top=pixels.fingerprint.phash_top,
        phash_bottom=pixels.fingerprint.phash_bottom,
        likeness=pixels.fingerprint.likeness,
        border_share=pixels.fingerprint.border_share,
        sharpness=pixels.sharpness,
        brightness=pixels.brightness,
        contrast=pixels.contrast,
        clipped_dark=pixels.clipped_dark,
        clipped_bright=pixels.clipped_bright,
        entropy=pixels.entropy,
        edge_width=pixels.edge_width,
    )


def _video_record(base: MediaRecord) -> tuple[MediaRecord, str | None]:
    try:
        facts = video_facts(base.path)
        if facts.captured_at is None and base.format in ("mpegts", "m2ts"):
            with open(base.path, "rb") as file:
                captured_at, offset = mdpm_capture_time(file.read(MDPM_SEARCH))
            facts = replace(facts, captured_at=captured_at, captured_offset=offset)
        extra = container_facts(base.path, base.format)
        if extra.captured_at is not None and (base.format in ("avi", "wmv") or facts.captured_at is None):
            facts = replace(facts, captured_at=extra.captured_at, captured_offset=None)
        facts = replace(facts, gps=extra.gps or facts.gps)
    except (OSError, RuntimeError, ValueError) as error:
        return replace(base, errors=(ExtractError("video", _reason(error)),)), None
    record = replace(
        base,
        **_size_fields(facts.width, facts.height, turned=facts.rotation in (90, 270)),
        rotation=facts.rotation,
        duration_s=facts.duration_s,
        fps=facts.fps,
        video_codec=facts.video_codec,
        audio_codec=facts.audio_codec,
        bitrate=facts.bitrate,
        captured_at=facts.captured_at,
        captured_offset=facts.captured_offset,
        captured_source="video" if facts.captured_at else None,
        make=facts.make,
        model=facts.model,
        software=facts.software,
        gps=facts.gps,
    )
    return record, facts.content_id


def _size_fields(width: int | None, height: int | None, *, turned: bool) -> dict[str, Any]:
    """The stored size, and the size as shown: swapped when the picture is turned a quarter."""
    shown = (height, width) if turned else (width, height)
    return dict(width=width, height=height, display_width=shown[0], display_height=shown[1])


_OBJECT_REPR: Final = re.compile(r"\s*'?<[^<>]*\bat 0x[0-9a-fA-F]+>'?")


def _data_ends_early(share: float) -> str:
    """What a JPEG whose decoder filled in its last rows lacks, for people (at least 1 %)."""
    return f"picture data ends early: its bottom {max(1, round(share * 100))} % is missing"


def _reason(error: BaseException) -> str:
    """One line, in words: never a Python object's repr (`<_io.BytesIO object at 0x7f…>`)."""
    if isinstance(error, UnidentifiedImageError):
        return "cannot decode the picture (damaged or cut short)"
    text = _OBJECT_REPR.sub("", str(error)).strip() or type(error).__name__
    return text.splitlines()[0][:200]
