"""The policy engine: which copies of one content stay, which go, and why. Pure, no I/O.

`decide(candidates, policy)` takes one group of identical files (`Candidate`s: device, paths,
times, whether they are on this device's disks, on which disk, their companions) and returns a
`GroupVerdict`: keep or remove for each, with a one-line reason. Rules combine:

- `keep_copies` N copies of each content stay; with `distinct_devices` on N different devices
  (a device name, or a disk of this machine). A group that cannot meet this is under-protected
  (`shortfall`) and left alone.
- `same_dir`: only copies sharing a folder with a kept copy go.
- `keep_in` folders are always kept; copies under `remove_from` go first.
- `prefer` (`original-name`, `shortest-path`, `oldest`, `newest`, `root:PATH`) orders the rest;
  the path breaks ties, so the same catalog gives the same plan.
- Copies on other devices are never removed, and count toward N only with `count_other_devices`;
  one copy on this device is always kept: the one the removed copies are compared with.
- A photo is a unit: a copy with companions is preferred as survivor; a copy whose companions have
  no same-content twin beside a kept copy is kept.

Named policies come from a TOML file (`policy.config`).
"""

from imgcat.policy.rules import (
    DEFAULT_PREFER,
    Candidate,
    CompanionFact,
    Decision,
    GroupVerdict,
    Policy,
    PolicyError,
    UnsafePlanError,
    Verdict,
    decide,
    is_under,
    shortfall,
)

__all__ = [
    "DEFAULT_PREFER",
    "Candidate",
    "CompanionFact",
    "Decision",
    "GroupVerdict",
    "Policy",
    "PolicyError",
    "UnsafePlanError",
    "Verdict",
    "decide",
    "is_under",
    "shortfall",
]
