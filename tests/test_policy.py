"""The policy engine, pure: each rule on hand-made groups, and invariants over random ones."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgcat.policy import Candidate, CompanionFact, Policy, PolicyError, decide, rules
from imgcat.policy.config import PolicySettings, parse_policies
from imgcat.policy.names import looks_like_copy


def c(path: str, **fields: object) -> Candidate:
    return Candidate(device=str(fields.pop("device", "laptop")), path=path, **fields)  # type: ignore[arg-type]


def decisions(candidates: list[Candidate], policy: Policy) -> dict[str, str]:
    return {v.candidate.path: v.decision for v in decide(candidates, policy).verdicts}


def test_by_default_one_copy_stays_the_original_name_then_the_shortest_path() -> None:
    group = [c("/p/a/IMG_1 (1).jpg"), c("/p/a/b/c/IMG_1.jpg"), c("/p/IMG_1 copy.jpg"), c("/p/a/IMG_1.jpg")]
    verdict = decide(group, Policy())
    kept = [v for v in verdict.verdicts if v.decision == "keep"]
    assert [v.candidate.path for v in kept] == ["/p/a/IMG_1.jpg"]
    assert kept[0].reason == "kept: shortest path"
    reasons = {v.candidate.path: v.reason for v in verdict.verdicts}
    assert reasons["/p/a/IMG_1 (1).jpg"] == "duplicate of IMG_1.jpg in the same folder"
    assert reasons["/p/IMG_1 copy.jpg"] == "duplicate of /p/a/IMG_1.jpg"


def test_same_dir_keeps_one_per_folder_and_leaves_other_folders_alone() -> None:
    group = [c("/a/x.jpg"), c("/a/x (1).jpg"), c("/a/x copy.jpg"), c("/b/x.jpg"), c("/c/y.jpg")]
    assert decisions(group, Policy(same_dir=True)) == {
        "/a/x.jpg": "keep", "/a/x (1).jpg": "remove", "/a/x copy.jpg": "remove",
        "/b/x.jpg": "keep", "/c/y.jpg": "keep",
    }  # fmt: skip


def test_same_dir_still_keeps_n_copies() -> None:
    group = [c("/a/x.jpg"), c("/a/x (1).jpg"), c("/a/x (2).jpg")]
    assert decisions(group, Policy(same_dir=True, keep_copies=2)) == {
        "/a/x.jpg": "keep", "/a/x (1).jpg": "keep", "/a/x (2).jpg": "remove",
    }  # fmt: skip


def test_keep_copies_keeps_n_and_a_group_with_fewer_is_under_protected() -> None:
    group = [c("/a/x.jpg"), c("/b/x.jpg"), c("/c/x.jpg")]
    assert sorted(decisions(group, Policy(keep_copies=2)).values()) == ["keep", "keep", "remove"]
    verdict = decide(group, Policy(keep_copies=4))
    assert verdict.shortfall == "under-protected: 3 copies, 4 asked"
    assert {v.decision for v in verdict.verdicts} == {"keep"}


def test_distinct_devices_keeps_copies_on_different_devices() -> None:
    group = [
        c("/a/x.jpg", storage="laptop:sda"),
        c("/b/x.jpg", storage="laptop:sda"),
        c("/usb/x.jpg", device="usb", storage="usb:sdb"),
    ]
    assert decisions(group, Policy(keep_copies=2, distinct_devices=True)) == {
        "/a/x.jpg": "keep", "/b/x.jpg": "remove", "/usb/x.jpg": "keep",
    }  # fmt: skip
    one_disk = [c("/a/x.jpg", storage="laptop:sda"), c("/b/x.jpg", storage="laptop:sda")]
    verdict = decide(one_disk, Policy(keep_copies=2, distinct_devices=True))
    assert verdict.shortfall == "under-protected: on 1 device, 2 asked"
    assert decide(one_disk, Policy(keep_copies=2)).shortfall is None


def test_keep_in_is_always_kept_and_remove_from_goes_first() -> None:
    group = [c("/backup/x.jpg"), c("/backup/old/x.jpg"), c("/home/x.jpg"), c("/home/Downloads/x.jpg")]
    assert decisions(group, Policy(keep_in=("/backup",))) == {
        "/backup/x.jpg": "keep", "/backup/old/x.jpg": "keep", "/home/x.jpg": "remove",
        "/home/Downloads/x.jpg": "remove",
    }  # fmt: skip
    short_in_downloads = [c("/d/x.jpg"), c("/home/me/Pictures/2019/x.jpg")]
    kept = decisions(short_in_downloads, Policy(remove_from=("/d",)))
    assert kept == {"/d/x.jpg": "remove", "/home/me/Pictures/2019/x.jpg": "keep"}
    verdict = decide(short_in_downloads, Policy(remove_from=("/d",)))
    assert verdict.verdicts[0].reason.startswith("under --remove-from /d; duplicate of")


def test_keep_in_is_a_folder_not_a_string_prefix() -> None:
    group = [c("/backups/x.jpg"), c("/a/x.jpg")]
    assert decisions(group, Policy(keep_in=("/backup",))) == {"/backups/x.jpg": "remove", "/a/x.jpg": "keep"}


@pytest.mark.parametrize(
    ("prefer", "kept"),
    [
        (("oldest",), "/p/old copy.jpg"),
        (("newest",), "/p/new.jpg"),
        (("shortest-path",), "/q/x.jpg"),
        (("root:/p",), "/p/new.jpg"),
        (("original-name", "oldest"), "/p/old.jpg"),
    ],
)
def test_prefer_chooses_the_survivor(prefer: tuple[str, ...], kept: str) -> None:
    shot = datetime(2019, 7, 4, 12, 0, tzinfo=UTC)
    group = [
        c("/p/new.jpg", captured_at=shot, mtime_ns=300),
        c("/p/old.jpg", captured_at=shot, mtime_ns=100),
        c("/q/x.jpg", captured_at=None, mtime_ns=50),
        c("/p/old copy.jpg", captured_at=shot, mtime_ns=10),
    ]
    verdict = decide(group, Policy(prefer=prefer))
    assert [v.candidate.path for v in verdict.kept] == [kept]


def test_the_plan_does_not_depend_on_the_order_copies_come_in() -> None:
    group = [c("/a/x.jpg"), c("/b/x.jpg"), c("/c/x.jpg")]
    assert decisions(group, Policy()) == decisions(list(reversed(group)), Policy())


def test_other_devices_are_never_removed_and_count_only_when_asked() -> None:
    group = [c("/a/x.jpg"), c("/b/x.jpg"), c("/nas/x.jpg", device="nas", local=False)]
    assert decisions(group, Policy(keep_copies=2)) == {
        "/a/x.jpg": "keep", "/b/x.jpg": "keep", "/nas/x.jpg": "keep",
    }  # fmt: skip
    counted = decide(group, Policy(keep_copies=2, count_other_devices=True))
    assert {v.candidate.path: v.decision for v in counted.verdicts} == {
        "/a/x.jpg": "keep", "/b/x.jpg": "remove", "/nas/x.jpg": "keep",
    }  # fmt: skip
    assert "not checked from here" in counted.verdicts[2].reason


def test_one_copy_here_always_stays_even_when_other_devices_are_enough() -> None:
    group = [c("/a/x.jpg"), c("/b/x.jpg"), c("/nas/x.jpg", device="nas", local=False)]
    verdict = decide(group, Policy(keep_copies=1, count_other_devices=True))
    assert {v.candidate.path: v.decision for v in verdict.verdicts} == {
        "/a/x.jpg": "keep", "/b/x.jpg": "remove", "/nas/x.jpg": "keep",
    }  # fmt: skip


def test_a_copy_with_companions_survives_and_one_without_twins_is_not_removed() -> None:
    xmp = CompanionFact("sidecar", "/b/x.xmp", "s1")
    group = [c("/a/x.jpg"), c("/b/x.jpg", companions=(xmp,))]
    assert decisions(group, Policy()) == {"/a/x.jpg": "remove", "/b/x.jpg": "keep"}
    lonely = [c("/a/x.jpg", companions=(CompanionFact("sidecar", "/a/x.xmp", "edited"),)), c("/b/x.jpg")]
    verdict = decide(lonely, Policy(keep_in=("/b",)))
    assert {v.decision for v in verdict.verdicts} == {"keep"}
    assert (
        verdict.verdicts[0].reason == "kept: its companion x.xmp has no same-content twin beside a kept copy"
    )


def test_a_removed_copys_companions_go_with_it_when_the_kept_copy_has_twins() -> None:
    mine = (CompanionFact("sidecar", "/a/x (1).xmp", "s1"), CompanionFact("live_video", "/a/x (1).mov", "v"))
    theirs = (CompanionFact("sidecar", "/a/x.xmp", "s1"), CompanionFact("live_video", "/a/x.mov", "v"))
    verdict = decide([c("/a/x (1).heic", companions=mine), c("/a/x.heic", companions=theirs)], Policy())
    [removed] = verdict.removed
    assert removed.candidate.path == "/a/x (1).heic"
    assert removed.twins == (("/a/x (1).xmp", "/a/x.xmp"), ("/a/x (1).mov", "/a/x.mov"))


def test_a_copy_follows_the_decision_made_for_its_companion() -> None:
    group = [c("/a/x.mov", follows="remove"), c("/b/x.mov", follows="keep")]
    assert decisions(group, Policy()) == {"/a/x.mov": "remove", "/b/x.mov": "keep"}


def test_bad_rules_are_usage_errors() -> None:
    with pytest.raises(PolicyError, match="--keep-copies must be 1 or more, not 0"):
        Policy(keep_copies=0)
    with pytest.raises(PolicyError, match="unknown --prefer 'biggest'"):
        Policy(prefer=("biggest",))


def test_copy_names_are_recognised() -> None:
    copies = ["IMG_1 copy.jpg", "IMG_1 copy 2.jpg", "IMG_1_copy.jpg", "Copy of IMG_1.jpg",
              "IMG_1 - Kopie.jpg", "IMG_1 (1).jpg", "IMG_1-1.jpg", "IMG_1234 2.jpg"]  # fmt: skip
    originals = ["IMG_0001.jpg", "2019-07-04.jpg", "copyright.jpg", "IMG_20190704_153012.jpg", "DSCN0010.jpg"]
    assert [n for n in copies if not looks_like_copy(f"/p/{n}")] == []
    assert [n for n in originals if looks_like_copy(f"/p/{n}")] == []


def test_named_policies_parse_with_dashes_and_check_their_keys() -> None:
    text = """
    [policy.backup]
    keep-copies = 2
    distinct_devices = true
    keep-in = "/media/backup"
    prefer = ["oldest", "shortest-path"]
    min-size = 100
    """
    assert parse_policies(text)["backup"] == PolicySettings(
        keep_copies=2, distinct_devices=True, keep_in=("/media/backup",), prefer=("oldest", "shortest-path"),
        min_size="100",
    )  # fmt: skip
    with pytest.raises(PolicyError, match="policy x: unknown setting 'keep-copy'"):
        parse_policies("[policy.x]\nkeep-copy = 2\n")
    with pytest.raises(PolicyError, match="policy x: keep-copies has the wrong type"):
        parse_policies('[policy.x]\nkeep-copies = "2"\n')


def test_options_given_override_the_named_policy() -> None:
    policy = PolicySettings(keep_copies=2, same_dir=True)
    assert PolicySettings(keep_copies=3).over(policy) == PolicySettings(keep_copies=3, same_dir=True)


_folders = st.sampled_from(["/a", "/a/b", "/c", "/d"])
# Candidate is a named tuple: `st.builds` would draw every field it is not given, defaults too
_PLAIN_REST: dict[str, st.SearchStrategy[object]] = {
    "links": st.just(()), "captured_at": st.none(), "companions": st.just(()), "follows": st.none(),
}  # fmt: skip
_candidates = st.lists(
    st.builds(
        Candidate,
        device=st.sampled_from(["laptop", "usb", "nas"]),
        path=st.builds(lambda d, n: f"{d}/{n}", _folders, st.sampled_from(["x.jpg", "x (1).jpg", "y.jpg"])),
        mtime_ns=st.integers(0, 5),
        local=st.booleans(),
        storage=st.sampled_from(["", "laptop:sda", "laptop:sdb"]),
        **_PLAIN_REST,
    ),
    min_size=1,
    max_size=7,
    unique_by=lambda c: (c.device, c.path),
)
_policies = st.builds(
    Policy,
    keep_copies=st.integers(1, 4),
    same_dir=st.booleans(),
    distinct_devices=st.booleans(),
    keep_in=st.lists(_folders, max_size=2).map(tuple),
    remove_from=st.lists(_folders, max_size=2).map(tuple),
    prefer=st.sampled_from([("original-name", "shortest-path"), ("oldest",), ("newest", "root:/c")]),
    count_other_devices=st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(_candidates, _policies)
def test_no_rule_set_ever_loses_a_content_or_acts_elsewhere(
    candidates: list[Candidate], policy: Policy
) -> None:
    verdict = decide(candidates, policy)
    assert [v.candidate for v in verdict.verdicts] == candidates
    removed = [v.candidate for v in verdict.removed]
    kept = [v.candidate for v in verdict.kept]
    assert all(r.local for r in removed)  # only this device's files
    if removed:
        assert any(k.local for k in kept)  # a copy here stays, to compare with
        counted = [k for k in kept if k.local or policy.count_other_devices]
        assert len(counted) >= policy.keep_copies
        if policy.distinct_devices:
            assert len({k.where for k in counted}) >= policy.keep_copies
        assert verdict.shortfall is None
    for r in removed:
        assert not any(p == f or p.startswith(f + "/") for p in r.paths for f in policy.keep_in)
        if policy.same_dir:
            assert any(k.local and k.path.rsplit("/", 1)[0] == r.path.rsplit("/", 1)[0] for k in kept)
    again = decide(list(reversed(candidates)), policy)
    assert {(v.candidate.device, v.candidate.path) for v in again.removed} == {
        (r.device, r.path) for r in removed
    }


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.builds(
            Candidate,
            device=st.sampled_from(["laptop", "usb"]),
            path=st.builds(
                lambda d, n: f"{d}/{n}", _folders, st.sampled_from(["x.jpg", "x (1).jpg", "y-1.jpg"])
            ),
            mtime_ns=st.integers(0, 3),
            storage=st.sampled_from(["", "laptop:sda"]),
            local=st.just(True),
            **_PLAIN_REST,
        ),
        min_size=2,
        max_size=6,
        unique_by=lambda c: (c.device, c.path),
    ),
    _policies.map(lambda p: replace(p, keep_copies=1, same_dir=False, keep_in=())),
)
def test_the_plain_case_is_decided_as_the_general_rules_decide_it(
    candidates: list[Candidate], policy: Policy
) -> None:
    assert rules._plain(candidates, policy)
    assert rules._decide_plain(candidates, policy) == rules._decide(candidates, policy)


def test_a_name_like_apple_iphone_6_is_an_original_beside_its_copy_named_copy() -> None:
    """ "Apple iPhone 6" reads like macOS's "IMG 2" copy name; it is one only beside "Apple iPhone"."""
    group = [c("/p/Pictures/iphone_6/Apple iPhone 6.jpg"), c("/p/Downloads/Apple iPhone 6 copy.jpg")]
    assert decisions(group, Policy()) == {
        "/p/Pictures/iphone_6/Apple iPhone 6.jpg": "keep",
        "/p/Downloads/Apple iPhone 6 copy.jpg": "remove",
    }
    group = [c("/p/longer/folder/Holiday 2019.jpg"), c("/p/Holiday 2019 2.jpg")]
    assert decisions(group, Policy())["/p/Holiday 2019 2.jpg"] == "remove"
    group = [c("/p/a/Canon EOS 20D (2).jpg"), c("/p/Canon EOS 20D (2) (1).jpg")]
    assert decisions(group, Policy())["/p/a/Canon EOS 20D (2).jpg"] == "keep"
