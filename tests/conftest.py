"""Shared fixtures: cheap by default. Stores are opened per test; ES only with a real cluster."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from imgcat.catalog.base import Bucket, Catalog, CatalogSummary, DuplicateSummary, camera_buckets, ranked
from imgcat.catalog.elastic import ElasticCatalog
from imgcat.catalog.sqlite import SqliteCatalog
from imgcat.record import Companion, ExtractError, GeoPoint, MediaRecord

ES_URL = os.environ.get("IMGCAT_TEST_ES_URL")
TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
MEDIA = TESTDATA / "media"
SEEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the user's catalog or settings; output is plain and fixed-width."""
    for name in list(os.environ):
        if name.startswith("IMGCAT_") and name != "IMGCAT_TEST_ES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("TERM", "dumb")


def make_record(path: str, checksum: str = "c0", device: str = "laptop", **fields: object) -> MediaRecord:
    record = MediaRecord(
        device=device,
        path=path,
        size=1000,
        mtime_ns=1_600_000_000_000_000_000,
        inode=42,
        checksum=checksum,
        kind="image",
        format="jpeg",
        scanned_at=SEEN,
        first_seen=SEEN,
        extractor_version=1,
    )
    return replace(record, **fields)  # type: ignore[arg-type]


def full_record(path: str = "/photos/2019/IMG_0001.JPG") -> MediaRecord:
    """A record with every field set, so a round trip that drops one fails."""
    return make_record(
        path,
        checksum="0123456789abcdef0123456789abcdef",
        size=2_345_678,
        inode=987654321,
        mime="image/jpeg",
        ext_mismatch=True,
        width=4032,
        height=3024,
        orientation=6,
        display_width=3024,
        display_height=4032,
        captured_at=datetime.fromisoformat("2019-07-04T15:30:12.250000+02:00"),
        captured_offset=120,
        captured_source="exif",
        make="Apple",
        model="iPhone 11 Pro",
        lens="iPhone 11 Pro back triple camera 4.25mm f/1.8",
        software="13.5.1",
        gps=GeoPoint(43.4674483, 11.8851266, 212.5),
        duration_s=3.5,
        fps=29.97,
        video_codec="hevc",
        audio_codec="aac",
        bitrate=8_000_000,
        rotation=90,
        phash=0xFEDCBA9876543210,
        dhash=0x0123456789ABCDEF,
        phash_centre=0x8000000000000001,
        phash_left=0x0F0F0F0F0F0F0F0F,
        phash_right=0xF0F0F0F0F0F0F0F0,
        phash_top=0x00FF00FF00FF00FF,
        phash_bottom=0xFF00FF00FF00FF00,
        likeness=bytes(range(256)) * 2,
        border_share=0.12,
        sharpness=123.5,
        brightness=0.45,
        contrast=0.21,
        clipped_dark=0.01,
        clipped_bright=0.002,
        entropy=7.1,
        edge_width=0.62,
        content_id="1745E022-9712-43C7-B024-F308EC6413CB",
        companions=(Companion("live_video", "/photos/2019/IMG_0001.MOV"),
                    Companion("sidecar", "/photos/2019/IMG_0001.AAE")),
        errors=(ExtractError("exif", "bad offset in IFD1"),),
    )  # fmt: skip


STORES = [
    "sqlite",
    pytest.param(
        "elasticsearch",
        marks=[
            pytest.mark.elasticsearch,
            pytest.mark.skipif(ES_URL is None, reason="IMGCAT_TEST_ES_URL not set"),
        ],
    ),
]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    """Each store, fresh: a new SQLite file, or a new index on the test cluster (deleted after)."""
    catalog: Catalog
    if request.param == "sqlite":
        catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
        yield catalog
        catalog.close()
        return
    assert ES_URL is not None
    index = f"imgcat-test-{uuid.uuid4().hex[:12]}"
    catalog = ElasticCatalog(Elasticsearch(ES_URL, request_timeout=60), ES_URL, index)
    try:
        yield catalog
    finally:
        cleanup = Elasticsearch(ES_URL)
        cleanup.indices.delete(index=f"{index},{index}-locations,{index}-not-same", ignore_unavailable=True)
        cleanup.close()
        catalog.close()


def figures_by_reading(catalog: Catalog) -> tuple[CatalogSummary, DuplicateSummary]:
    """What `summary` and `duplicate_summary` must say, worked out from every entry read back."""
    records = list(catalog.iter_under(None, "/"))
    facets: dict[str, dict[str, list[int]]] = {f: {} for f in ("kind", "format", "year", "device", "error")}

    def count(facet: str, key: str, size: int) -> None:
        figures = facets[facet].setdefault(key, [0, 0])
        figures[0] += 1
        figures[1] += size

    for r in records:
        year = "unknown" if r.captured_at is None else f"{r.captured_at.year:04d}"
        for facet, key in (("kind", r.kind), ("format", r.format), ("year", year), ("device", r.device)):
            count(facet, key, r.size)
        for stage in {e.stage for e in r.errors}:
            count("error", stage, r.size)

    def buckets(facet: str) -> tuple[Bucket, ...]:
        return ranked(Bucket(key, n, size) for key, (n, size) in facets[facet].items())

    summary = CatalogSummary(
        records=len(records),
        bytes=sum(r.size for r in records),
        by_kind=buckets("kind"),
        by_format=buckets("format"),
        by_year=buckets("year"),
        by_camera=camera_buckets((r.make, r.model, 1, r.size) for r in records),
        by_device=buckets("device"),
        with_errors=sum(1 for r in records if r.errors),
        by_error=buckets("error"),
    )
    groups = list(catalog.checksum_groups())
    extra = [len(g.records) - 1 for g in groups]
    duplicates = DuplicateSummary(
        len(groups), sum(extra), sum(g.records[0].size * n for g, n in zip(groups, extra, strict=True))
    )
    return summary, duplicates
