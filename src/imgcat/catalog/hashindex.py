"""Pairs of 64-bit hashes within a Hamming distance, without comparing all pairs.

Multi-index hashing (Norouzi, Punjani, Fleet: "Fast search in Hamming space with multi-index
hashing", CVPR 2012): each hash is split into CHUNKS parts. Two hashes at distance d <= T differ by
at most T // CHUNKS bits in at least one part (pigeonhole), so every close pair is found by
looking up, part by part, the buckets whose key differs from the query's by at most that many bits;
only those candidates are compared in full. With three parts of 21-22 bits, a million random
hashes leave about one hash in four buckets, so the candidates stay a small multiple of the
queries: the cost grows near-linearly with the catalog. Everything runs on numpy arrays in
batches; no Python loop touches one hash.

Shared by both stores (each streams its hashes here): the same pairs whatever the store.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Final

import numpy as np

CHUNKS: Final = 3
MAX_DISTANCE: Final = 3 * CHUNKS - 1  # radius 2 per part; more would probe thousands of buckets each
_BITS: Final = 64
_WIDTHS: Final = (22, 21, 21)
_PROBE_BATCH: Final = 1 << 20  # candidate pairs compared at once (bounds the memory of one step)


def _flip_masks(width: int, radius: int) -> np.ndarray:
    """Every key of `width` bits with at most `radius` bits set: what a query XORs to probe."""
    masks = [0]
    for count in range(1, radius + 1):
        masks.extend(sum(1 << bit for bit in bits) for bits in itertools.combinations(range(width), count))
    return np.array(masks, dtype=np.int64)


def close_pairs(hashes: np.ndarray, max_distance: int, others: np.ndarray | None = None) -> np.ndarray:
    """Index pairs (i, j) with popcount(hashes[i] ^ others[j]) <= max_distance, as an (n, 2) int64
    array sorted by (i, j). Without `others`, pairs within `hashes` itself, each once, with i < j."""
    if not 0 <= max_distance <= MAX_DISTANCE:
        raise ValueError(f"max_distance must be within 0..{MAX_DISTANCE}")
    queries = np.ascontiguousarray(hashes, dtype=np.uint64)
    targets = queries if others is None else np.ascontiguousarray(others, dtype=np.uint64)
    radius = max_distance // CHUNKS
    found: list[np.ndarray] = []
    offset = 0
    for width in _WIDTHS:
        found.extend(
            _chunk_pairs(queries, targets, offset, width, radius, max_distance, self_join=others is None)
        )
        offset += width
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    codes = np.unique(np.concatenate(found))  # a pair close in several parts is found several times
    return np.stack((codes // len(targets), codes % len(targets)), axis=1)


def _chunk_pairs(
    queries: np.ndarray,
    targets: np.ndarray,
    offset: int,
    width: int,
    radius: int,
    max_distance: int,
    *,
    self_join: bool,
) -> Iterator[np.ndarray]:
    """Close pairs found through one part of the hashes, encoded as i * len(targets) + j.

    Queries are visited in the order of their keys, so that the bucket table is read almost
    sequentially (a flipped bit moves a key a little); keys and tables are 32-bit to halve the
    memory traffic of the passes made once per probe."""
    mask = np.uint64((1 << width) - 1)
    shift = np.uint64(offset)
    target_keys = ((targets >> shift) & mask).astype(np.int32)
    order = np.argsort(target_keys, kind="stable").astype(np.int64)
    counts = np.bincount(target_keys, minlength=1 << width).astype(np.int32)
    starts = (np.cumsum(counts, dtype=np.int64) - counts).astype(np.int64)
    if self_join:
        query_order = order
        sorted_keys = target_keys[order]
    else:
        query_keys = ((queries >> shift) & mask).astype(np.int32)
        query_order = np.argsort(query_keys, kind="stable").astype(np.int64)
        sorted_keys = query_keys[query_order]
    for flip in _flip_masks(width, radius).astype(np.int32):
        probes = sorted_keys ^ flip
        hits = counts[probes]
        (asking,) = np.nonzero(hits)
        if len(asking) == 0:
            continue
        yield from _compared(
            queries,
            targets,
            order,
            query_order[asking],
            starts[probes[asking]],
            hits[asking],
            max_distance,
            self_join=self_join,
        )


def _compared(
    queries: np.ndarray,
    targets: np.ndarray,
    order: np.ndarray,
    asking: np.ndarray,
    first: np.ndarray,
    sizes: np.ndarray,
    max_distance: int,
    *,
    self_join: bool,
) -> Iterator[np.ndarray]:
    """Compare each asking query with every hash in its probed bucket; keep the close pairs."""
    sizes = sizes.astype(np.int64)
    ends = np.cumsum(sizes)
    for low, high in _batches(ends):
        size = sizes[low:high]
        query_index = np.repeat(asking[low:high], size)
        within = np.arange(len(query_index)) - np.repeat(np.cumsum(size) - size, size)
        target_index = order[np.repeat(first[low:high], size) + within]
        distance = np.bitwise_count(queries[query_index] ^ targets[target_index])
        keep = distance <= max_distance
        if self_join:
            keep &= query_index < target_index
        yield query_index[keep] * len(targets) + target_index[keep]


def _batches(ends: np.ndarray) -> Iterator[tuple[int, int]]:
    """Split queries into runs whose candidates number about _PROBE_BATCH."""
    low = 0
    while low < len(ends):
        base = ends[low - 1] if low else 0
        high = int(np.searchsorted(ends, base + _PROBE_BATCH, side="right"))
        high = max(high, low + 1)
        yield low, high
        low = high


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()
