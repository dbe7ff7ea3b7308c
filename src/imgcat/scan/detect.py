"""Recognise media by content (magic bytes), not by extension."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from imgcat.record import Kind

HEAD_BYTES: Final = 512

TIFF_RAW_EXTS: Final = frozenset(
    {"dng", "nef", "nrw", "arw", "srf", "sr2", "pef", "srw", "3fr", "erf", "kdc", "dcr", "mos", "iiq", "mef"}
)
# The extensions each format may carry without being called a liar.
EXTENSIONS: Final[dict[str, frozenset[str]]] = {
    "jpeg": frozenset({"jpg", "jpeg", "jpe", "jfif", "thm"}),
    "png": frozenset({"png"}),
    "gif": frozenset({"gif"}),
    "webp": frozenset({"webp"}),
    "tiff": frozenset({"tif", "tiff"}),
    "bmp": frozenset({"bmp", "dib"}),
    "heic": frozenset({"heic", "heif", "hif"}),
    "avif": frozenset({"avif"}),
    "cr2": frozenset({"cr2"}),
    "cr3": frozenset({"cr3"}),
    "crw": frozenset({"crw"}),
    "orf": frozenset({"orf"}),
    "rw2": frozenset({"rw2", "raw"}),
    "raf": frozenset({"raf"}),
    "mrw": frozenset({"mrw"}),
    "x3f": frozenset({"x3f"}),
    "mp4": frozenset({"mp4", "m4v"}),
    "mov": frozenset({"mov", "qt"}),
    "3gp": frozenset({"3gp", "3g2"}),
    "avi": frozenset({"avi"}),
    "mkv": frozenset({"mkv"}),
    "webm": frozenset({"webm"}),
    "mpegts": frozenset({"mts", "ts"}),
    "m2ts": frozenset({"m2ts", "mts"}),
    "mpeg": frozenset({"mpg", "mpeg", "vob", "mod"}),
    "wmv": frozenset({"wmv", "asf"}),
    **{ext: frozenset({ext}) for ext in TIFF_RAW_EXTS},
}
# Names that promise a photo or video: one whose content is none is worth a warning (a failed
# copy, a damaged card). Not those that other files often carry too: .ts (TypeScript), .mod
# (go.mod, trackers), .raw (anything), .thm (a sidecar).
MEDIA_NAMED: Final = frozenset(ext for exts in EXTENSIONS.values() for ext in exts) - {
    "ts",
    "mod",
    "raw",
    "thm",
}
RAW_FORMATS: Final = frozenset({"cr2", "cr3", "crw", "orf", "rw2", "raf", "mrw", "x3f", *TIFF_RAW_EXTS})
VIDEO_FORMATS: Final = frozenset({"mp4", "mov", "3gp", "avi", "mkv", "webm", "mpegts", "m2ts", "mpeg", "wmv"})
MIME: Final[dict[str, str]] = {
    "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
    "tiff": "image/tiff", "bmp": "image/bmp", "heic": "image/heic", "avif": "image/avif",
    "mp4": "video/mp4", "mov": "video/quicktime", "3gp": "video/3gpp", "avi": "video/x-msvideo",
    "mkv": "video/x-matroska", "webm": "video/webm", "mpegts": "video/mp2t", "m2ts": "video/mp2t",
    "mpeg": "video/mpeg", "wmv": "video/x-ms-wmv",
}  # fmt: skip

_HEIF_BRANDS: Final = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})
_QT_BRANDS: Final = frozenset({b"qt  "})
_3GP_PREFIX: Final = (b"3gp", b"3g2", b"3ge", b"3gg")


@dataclass(frozen=True, slots=True)
class Detected:
    kind: Kind
    format: str
    mime: str | None
    ext_mismatch: bool


def detect(head: bytes, ext: str) -> Detected | None:
    """What the first bytes say the file is; None if not a photo or video imgcat knows."""
    found = _format_of(head, ext.lower())
    if found is None:
        return None
    kind: Kind = "video" if found in VIDEO_FORMATS else "image"
    mismatch = ext.lower() not in EXTENSIONS.get(found, frozenset())
    mime = MIME.get(found, f"image/x-{found}" if found in RAW_FORMATS else None)
    return Detected(kind, found, mime, mismatch)


def _format_of(head: bytes, ext: str) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:2] == b"BM" and len(head) >= 26 and head[14] in (12, 40, 52, 56, 64, 108, 124):
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_family(head, ext)
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return "orf"
    if head[:4] == b"IIU\x00":
        return "rw2"
    if head[:2] == b"II" and head[6:14] == b"HEAPCCDR":
        return "crw"
    if head.startswith(b"FUJIFILMCCD-RAW"):
        return "raf"
    if head[:4] == b"\x00MRM":
        return "mrw"
    if head[:4] == b"FOVb":
        return "x3f"
    if head[4:8] == b"ftyp":
        return _iso_bmff(head)
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "mov"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[:4] == b"\x00\x00\x01\xba":
        return "mpeg"
    if head[:8] == b"\x30\x26\xb2\x75\x8e\x66\xcf\x11":
        return "wmv"
    if _sync_bytes(head, 0, 188):
        return "mpegts"
    if _sync_bytes(head, 4, 192):
        return "m2ts"
    return None


def _tiff_family(head: bytes, ext: str) -> str:
    if head[8:10] == b"CR":
        return "cr2"
    if ext in TIFF_RAW_EXTS:
        return ext
    return "tiff"


def _iso_bmff(head: bytes) -> str | None:
    size = int.from_bytes(head[:4], "big")
    box = head[8 : min(max(size, 16), len(head))]
    major, compatible = box[:4], {box[i : i + 4] for i in range(8, len(box) - 3, 4)}
    brands = {major, *compatible}
    if major == b"crx ":
        return "cr3"
    if major in _AVIF_BRANDS or (major in (b"mif1", b"msf1") and brands & _AVIF_BRANDS):
        return "avif"
    if major in _HEIF_BRANDS:
        return "heic"
    if major in _QT_BRANDS:
        return "mov"
    if major.startswith(_3GP_PREFIX):
        return "3gp"
    if major[:3] in (b"iso", b"mp4", b"avc", b"M4V", b"mp7", b"das", b"f4v", b"MSN", b"NDA", b"XAV"):
        return "mp4"
    return None


def _sync_bytes(head: bytes, start: int, step: int) -> bool:
    positions = range(start, min(len(head), start + 3 * step), step)
    return len(positions) >= 3 and all(head[p] == 0x47 for p in positions)
