"""What `add` measures from its one reduced decode: the edge width (focus), and 16-bit pictures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from imgcat.record import MediaRecord
from imgcat.scan.extract import extract_file
from imgcat.scan.pixels import edge_width, pixel_facts, work_image
from imgcat.scan.reading import FileStat
from media import copy_media

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _record_of(path: Path) -> MediaRecord:
    extraction = extract_file(FileStat.of(str(path)), "d", NOW)
    assert extraction.record is not None
    return extraction.record


def test_a_blurred_copy_of_a_real_photo_has_wider_edges_at_any_size(tmp_path: Path) -> None:
    root = copy_media(tmp_path, "leica_t/Leica T (Typ 701).jpg")  # 4928 px: a 1/8 draft is 616 px
    original = root / "leica_t" / "Leica T (Typ 701).jpg"
    with Image.open(original) as image:
        image.filter(ImageFilter.GaussianBlur(8)).save(tmp_path / "blurred.jpg", quality=92)
    sharp, blurred = _record_of(original), _record_of(tmp_path / "blurred.jpg")
    assert sharp.edge_width is not None and blurred.edge_width is not None
    assert sharp.edge_width < 0.7 < 0.8 < blurred.edge_width


def test_a_small_blurred_photo_with_sensor_noise_over_the_blur_still_reads_blurred(tmp_path: Path) -> None:
    root = copy_media(tmp_path, "nikon_coolpix_p6000/DSCN0010.jpg")  # 640x480: measured at 1/2 size
    with Image.open(root / "nikon_coolpix_p6000" / "DSCN0010.jpg") as image:
        blurred = image.convert("RGB").filter(ImageFilter.GaussianBlur(8))
    noise = Image.merge("RGB", [Image.effect_noise(blurred.size, 5) for _ in range(3)])
    ImageChops.add(blurred, noise, offset=-128).save(tmp_path / "noisy.jpg", quality=90)
    with Image.open(tmp_path / "noisy.jpg") as image:
        gray = work_image(image, None)
    finest = edge_width(np.asarray(gray, dtype=np.float32))
    record = _record_of(tmp_path / "noisy.jpg")
    assert finest is not None and finest < 0.6  # the noise alone reads sharp at the finest scale
    assert record.edge_width is not None and record.edge_width > 0.8


def test_edge_width_ignores_contrast_and_reads_a_blur_radius() -> None:
    steps = np.zeros((64, 64), dtype=np.float32)
    steps[:, 32:] = 200.0
    blurred = np.asarray(
        Image.fromarray(steps.astype(np.uint8)).filter(ImageFilter.GaussianBlur(3)), dtype=np.float32
    )
    wide, faint = edge_width(blurred), edge_width(blurred * 0.1)
    assert wide is not None and faint is not None
    assert 2.4 < wide < 3.6  # a step blurred by a radius of 3 is about 3 pixels wide
    assert abs(wide - faint) < 0.05 * wide


def test_a_uniform_picture_has_no_edge_width() -> None:
    assert edge_width(np.full((50, 80), 128.0, dtype=np.float32)) is None


def test_a_16_bit_picture_is_measured_by_its_depth_not_clipped_to_white(tmp_path: Path) -> None:
    root = copy_media(tmp_path, "parrot/Issue 151.tif")  # a drone camera's 16-bit gray TIFF
    record = _record_of(root / "parrot" / "Issue 151.tif")
    assert record.brightness is not None and record.clipped_bright is not None
    assert 0.2 < record.brightness < 0.8 and record.clipped_bright < 0.05


def test_the_work_image_keeps_an_eighth_of_a_large_picture() -> None:
    large = Image.new("L", (6000, 4000), 90)
    assert work_image(large, None).size == (750, 500)
    small = Image.new("L", (1600, 1200), 90)
    assert max(work_image(small, None).size) <= 512
    assert pixel_facts(work_image(large, None)).edge_width is None  # uniform: no edges
