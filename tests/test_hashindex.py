"""The hash index finds exactly the pairs an all-pairs comparison finds, at every distance it allows."""

from __future__ import annotations

import numpy as np
import pytest

from imgcat.catalog.hashindex import MAX_DISTANCE, close_pairs


def _random_with_planted(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, count, dtype=np.uint64)
    for k in range(0, count // 2, 2):  # pairs at every distance 0..9, bits anywhere
        flips = rng.choice(64, (k // 2) % 10, replace=False)
        hashes[k + 1] = hashes[k] ^ np.uint64(sum(1 << int(b) for b in flips))
    return hashes


def _all_pairs(a: np.ndarray, b: np.ndarray, limit: int, *, self_join: bool) -> set[tuple[int, int]]:
    close = np.bitwise_count(a[:, None] ^ b[None, :]) <= limit
    if self_join:
        close = np.triu(close, 1)
    return {(int(i), int(j)) for i, j in zip(*np.nonzero(close), strict=True)}


@pytest.mark.parametrize("limit", [0, 3, 5, MAX_DISTANCE])
def test_pairs_within_a_catalog_are_those_of_all_pairs(limit: int) -> None:
    hashes = _random_with_planted(3000, seed=limit)
    found = {tuple(pair) for pair in close_pairs(hashes, limit).tolist()}
    assert found == _all_pairs(hashes, hashes, limit, self_join=True)
    assert len(found) >= 15 * (limit + 1) // 10  # the planted pairs are there, not only chance ones


def test_pairs_between_two_sets_are_those_of_all_pairs() -> None:
    first = _random_with_planted(2000, seed=1)
    second = first.copy()
    second[::3] ^= np.uint64(0b1011 << 40)  # three bits away
    found = {tuple(pair) for pair in close_pairs(first, MAX_DISTANCE, second).tolist()}
    assert found == _all_pairs(first, second, MAX_DISTANCE, self_join=False)
    assert all((k, k) in found for k in range(0, 2000, 3))


def test_a_distance_the_index_cannot_promise_is_refused() -> None:
    with pytest.raises(ValueError, match="max_distance"):
        close_pairs(np.zeros(3, dtype=np.uint64), MAX_DISTANCE + 1)
