"""`imgcat dupes`: groups found from the catalog and checked on disk, decided by the rules, shown."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clirun import imgcat
from conftest import make_record
from imgcat.catalog.base import Catalog, ContentQuery
from imgcat.operations.add import add_folder
from imgcat.operations.dupes import DupesRequest, GroupPlan, coverage, plan_dupes
from imgcat.policy import Policy
from imgcat.record import Companion
from media import MEDIA, copy_media

FOLDERS = ("nikon_coolpix_p6000", "sony_cybershot", "misc_png", "iphone_video", "canon_powershot_sx60hs")


def request(**policy: object) -> DupesRequest:
    query = policy.pop("query", ContentQuery())
    devices = policy.pop("devices", frozenset({"d"}))
    return DupesRequest(query, Policy(**policy), devices)  # type: ignore[arg-type]


def groups_of(plans: list[GroupPlan]) -> set[frozenset[str]]:
    return {frozenset(p for f in g.present for p in f.paths) for g in plans if g.is_duplicate}


def planted_tree(root: Path) -> Path:
    """Real media with planted copies: same folder, other folders, four copies, hard links."""
    copy_media(root / "orig", *FOLDERS)
    nikon = root / "orig/nikon_coolpix_p6000"
    shutil.copy2(nikon / "DSCN0010.jpg", nikon / "DSCN0010 (1).jpg")  # same folder
    (root / "backup/deep").mkdir(parents=True)
    shutil.copy2(nikon / "DSCN0010.jpg", root / "backup/DSCN0010.jpg")  # other folders
    for n in range(3):  # one content four times
        shutil.copy2(root / "orig/misc_png/sampleWithExifData.png", root / f"backup/deep/png-{n}.png")
    os.link(nikon / "DSCN0012.jpg", nikon / "DSCN0012-link.jpg")  # a hard link: one file, not a copy
    os.link(nikon / "DSCN0025.jpg", root / "backup/DSCN0025.jpg")  # a hard link beside a real copy
    shutil.copy2(nikon / "DSCN0025.jpg", root / "backup/deep/DSCN0025.jpg")
    (root / "backup/empty.jpg").touch()
    (root / "backup/deep/empty.jpg").touch()
    return root


def test_groups_are_jdupes_groups_on_a_tree_with_planted_copies(store: Catalog, tmp_path: Path) -> None:
    jdupes = shutil.which("jdupes")
    if jdupes is None:
        pytest.skip("jdupes is not installed (Debian: jdupes)")
    root = planted_tree(tmp_path / "tree")
    changed = root / "backup/deep/png-2.png"
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    with open(changed, "r+b") as handle:  # changed after cataloging: no longer a copy
        handle.seek(100)
        handle.write(b"\x00\x01\x02")

    # jdupes' defaults compare like with like: hard links to one inode are one file (not a
    # duplicate of itself, -H not given) and empty files are not duplicates (-z not given;
    # imgcat catalogs no empty file). It lists one path per inode: compare by inode.
    listed = subprocess.run([jdupes, "-r", "-q", str(root)], capture_output=True, text=True, check=True)
    theirs = {
        frozenset(os.stat(p).st_ino for p in block.splitlines())
        for block in listed.stdout.strip().split("\n\n")
        if block
    }
    plans = list(plan_dupes(store, request()))
    ours = {frozenset(os.stat(f.path).st_ino for f in g.present) for g in plans if g.is_duplicate}
    assert ours == theirs
    assert len(ours) == 3  # DSCN0010 three times, the PNG three times (one changed), DSCN0025
    [stale] = [f for g in plans for f in g.stale]
    assert (stale.path, stale.state, stale.decision) == (str(changed), "changed", "keep")
    linked = next(g for g in plans if any(f.links for f in g.files))
    assert len(linked.present) == 2 and len(linked.removed) == 1


def test_hard_links_alone_are_not_a_group(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "sony_cybershot")
    first = next(root.rglob("*.jpg"))
    os.link(first, first.with_name("linked.jpg"))
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    assert len(list(store.content_groups(ContentQuery()))) == 1  # the catalog holds both names
    assert list(plan_dupes(store, request())) == []


def test_a_vanished_copy_is_left_alone_and_reported(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "sony_cybershot")
    first = next(root.rglob("*.jpg"))
    for n in (1, 2):
        shutil.copy2(first, root / f"copy{n}.jpg")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    (root / "copy2.jpg").unlink()
    [group] = plan_dupes(store, request())
    states = {Path(f.path).name: (f.state, f.decision) for f in group.files}
    assert states["copy2.jpg"] == ("missing", "keep")
    assert sorted(d for s, d in states.values() if s == "ok") == ["keep", "remove"]


def test_filters_under_min_size_and_kind(store: Catalog, tmp_path: Path) -> None:
    root = planted_tree(tmp_path / "tree")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    under = list(plan_dupes(store, request(query=ContentQuery(under=(str(root / "backup/deep"),)))))
    assert {Path(p).name for g in groups_of(under) for p in g} == {
        "sampleWithExifData.png", "png-0.png", "png-1.png", "png-2.png", "DSCN0025.jpg",
    }  # fmt: skip
    big = list(plan_dupes(store, request(query=ContentQuery(min_size=155_000))))  # DSCN0010, 161,713 B
    assert (
        sorted(Path(p).name for g in groups_of(big) for p in g) == ["DSCN0010 (1).jpg"] + ["DSCN0010.jpg"] * 2
    )
    assert list(plan_dupes(store, request(query=ContentQuery(kind="video")))) == []


def test_distinct_devices_over_two_devices_in_one_catalog(store: Catalog, tmp_path: Path) -> None:
    laptop = copy_media(tmp_path / "laptop", "sony_cybershot")
    usb = copy_media(tmp_path / "usb", "sony_cybershot")
    photo = next(laptop.rglob("*.jpg"))
    shutil.copy2(photo, photo.with_name("again.jpg"))
    add_folder(store, str(laptop), device="laptop", recursive=True, workers=0)
    add_folder(store, str(usb), device="usb", recursive=True, workers=0)
    both = frozenset({"laptop", "usb"})
    plans = list(plan_dupes(store, request(keep_copies=2, distinct_devices=True, devices=both)))
    removed = [(f.device, Path(f.path).name) for g in plans for f in g.removed]
    assert len(removed) == 1 and removed[0][0] == "laptop"
    kept_devices = [sorted(f.device for f in g.files if f.decision == "keep") for g in plans]
    assert all(devices[-1] == "usb" and "laptop" in devices for devices in kept_devices)
    here = frozenset({"laptop"})
    only_laptop = list(plan_dupes(store, request(keep_copies=2, distinct_devices=True, devices=here)))
    assert [f for g in only_laptop for f in g.removed] == []  # usb not here: it does not count
    assert {g.shortfall for g in only_laptop if g.is_duplicate} == {
        "under-protected: on 1 device, 2 asked", "under-protected: 1 copy, 2 asked",
    }  # fmt: skip


def test_under_protected_lists_single_copies_and_copies_on_one_device(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "sony_cybershot", "nikon_coolpix_p6000")
    photo = next((root / "sony_cybershot").glob("*.jpg"))
    shutil.copy2(photo, root / "copy.jpg")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    listed = list(coverage(store, request(keep_copies=2)))
    assert sorted(len(g.files) for g in listed) == [1] * 5  # the copied photo has its 2 copies
    assert all(g.shortfall == "under-protected: 1 copy, 2 asked" for g in listed)
    on_devices = list(coverage(store, request(keep_copies=2, distinct_devices=True)))
    assert len(on_devices) == 6


def test_a_photo_is_a_unit_its_sidecar_decides(store: Catalog, tmp_path: Path) -> None:
    root = copy_media(tmp_path / "m", "sony_cybershot")
    photo = next(root.rglob("*.jpg"))
    (root / "a").mkdir()
    (root / "b").mkdir()
    for folder in ("a", "b"):
        shutil.copy2(photo, root / folder / "IMG_1.jpg")
        (root / folder / "IMG_1.xmp").write_text("<x:xmpmeta rating='5'/>")
    shutil.copy2(photo, root / "zz.jpg")
    add_folder(store, str(root), device="d", recursive=True, workers=0)
    [group] = plan_dupes(store, request(keep_in=(str(root / "b"),)))
    by_name = {os.path.relpath(f.path, root): f for f in group.files}
    assert by_name["b/IMG_1.jpg"].decision == "keep"
    assert by_name["a/IMG_1.jpg"].decision == "remove"
    assert by_name["a/IMG_1.jpg"].sidecars == ((str(root / "a/IMG_1.xmp"), str(root / "b/IMG_1.xmp")),)
    (root / "a/IMG_1.xmp").write_text("<x:xmpmeta rating='1'/>")  # edited: not the same sidecar
    [group] = plan_dupes(store, request(keep_in=(str(root / "b"),)))
    by_name = {os.path.relpath(f.path, root): f for f in group.files}
    assert by_name["a/IMG_1.jpg"].decision == "keep"
    assert "IMG_1.xmp has no same-content twin" in by_name["a/IMG_1.jpg"].reason


def _cli_tree(tmp_path: Path) -> tuple[Path, Path]:
    root = copy_media(tmp_path / "m", "sony_cybershot")
    photo = next(root.rglob("*.jpg"))
    shutil.copy2(photo, photo.with_name("photo (1).jpg"))
    db = tmp_path / "c.sqlite"
    return root, db


def test_cli_dry_run_shows_each_group_and_totals(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root, db = _cli_tree(tmp_path)
    assert imgcat(capsys, "add", "-r", str(root), "--db", str(db), "--device", "d", "-q").code == 0
    run = imgcat(capsys, "dupes", "--db", str(db), "--device", "d")
    assert run.code == 0, run.err
    assert "photo (1).jpg" in run.out and "duplicate of" in run.out
    assert "1 group, 2 files: 1 to remove" in run.out
    assert run.out.rstrip().endswith("dry run: nothing changed")
    as_json = imgcat(capsys, "dupes", "--db", str(db), "--device", "d", "--json")
    data = json.loads(as_json.out)
    [group] = data["groups"]
    assert set(group) >= {"checksum", "size", "files"}
    assert {f["decision"] for f in group["files"]} == {"keep", "remove"}
    assert set(group["files"][0]) >= {"path", "device", "decision", "reason"}
    assert data["totals"]["remove"] == 1 and data["totals"]["bytes"] == group["size"]
    assert len(list(root.rglob("*.jpg"))) == 3  # a dry run changes nothing


def test_a_dry_run_loads_neither_the_actions_layer_nor_rich(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The common case pays for no module it does not use: the journal, execution, trash and undo
    load for --apply and --script only, Rich for a terminal only (checked in a fresh process)."""
    root, db = _cli_tree(tmp_path)
    assert imgcat(capsys, "add", "-r", str(root), "--db", str(db), "--device", "d", "-q").code == 0
    probe = (
        "import sys\n"
        "from imgcat.cli.app import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "finally:\n"
        "    loaded = sorted(m for m in sys.modules if m.startswith(('imgcat.actions', 'rich')))\n"
        "    print(loaded, file=sys.stderr)\n"
    )
    base = [sys.executable, "-c", probe, "dupes", "--db", str(db), "--device", "d"]
    dry = subprocess.run(base, capture_output=True, text=True, check=True)
    assert "1 group, 2 files: 1 to remove" in dry.stdout
    assert dry.stderr.strip() == "[]"
    script = subprocess.run([*base, "--script", str(tmp_path / "s.sh")], capture_output=True, text=True)
    assert "imgcat.actions.script" in script.stderr  # the probe sees a module when it is loaded


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--keep-copies", "0"], "error: --keep-copies must be 1 or more, not 0"),
        (["--keep-in", "/no/such/folder"], "error: --keep-in /no/such/folder: no such file or folder"),
        (["--min-size", "lots"], "error: --min-size expects a size like 500, 10k, 1.5MB or 2GiB, not 'lots'"),
        (["--kind", "audio"], "error: --kind expects image or video, not 'audio'"),
        (["--prefer", "biggest"], "error: unknown --prefer 'biggest'"),
        (["--policy", "nope"], "error: no policy 'nope'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_done(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    root, db = _cli_tree(tmp_path)
    run = imgcat(capsys, "dupes", "--db", str(db), *args)
    assert run.code == 2
    assert run.err.startswith(message) and run.err.count("\n") == 1
    assert len(list(root.rglob("*.jpg"))) == 3


def test_an_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root, db = _cli_tree(tmp_path)
    run = imgcat(capsys, "dupes", "--db", str(db), "--delete-everything")
    assert run.code == 2 and "--delete-everything" in run.err
    assert len(list(root.rglob("*.jpg"))) == 3


def test_all_15000_groups_are_found_and_planned(store: Catalog) -> None:
    store.upsert_many(
        make_record(f"/copy{n}/{i:05d}.jpg", checksum=f"{i:032x}", inode=2 * i + n)
        for i in range(15_000)
        for n in (1, 2)
    )
    plans = plan_dupes(store, DupesRequest(ContentQuery(), Policy(), frozenset({"laptop"}), check_disk=False))
    removed = [f.path for g in plans for f in g.removed]
    assert len(removed) == 15_000
    assert removed[:2] == ["/copy2/00000.jpg", "/copy2/00001.jpg"]


def test_a_named_policy_from_the_config_file_and_options_over_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root, db = _cli_tree(tmp_path)
    imgcat(capsys, "add", "-r", str(root), "--db", str(db), "--device", "d", "-q")
    config = tmp_path / "xdg-config/imgcat/policies.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[policy.safe]\nkeep-copies = 2\n\n[policy.tidy]\nsame-dir = true\n")
    safe = json.loads(
        imgcat(capsys, "dupes", "--db", str(db), "--device", "d", "--json", "--policy", "safe").out
    )
    assert safe["totals"]["remove"] == 0
    overridden = imgcat(
        capsys, "dupes", "--db", str(db), "--device", "d", "--json", "--policy", "safe", "--keep-copies", "1"
    )
    assert json.loads(overridden.out)["totals"]["remove"] == 1


def test_under_protected_view_on_the_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root, db = _cli_tree(tmp_path)
    imgcat(capsys, "add", "-r", str(root), "--db", str(db), "--device", "d", "-q")
    run = imgcat(capsys, "dupes", "--db", str(db), "--device", "d", "--under-protected", "--json")
    data = json.loads(run.out)
    assert data["totals"] == {"contents": 1}
    [content] = data["groups"]
    assert len(content["files"]) == 1 and content["under_protected"] == "under-protected: 1 copy, 2 asked"
    assert MEDIA.is_dir()


def test_a_live_photo_keeps_both_halves_in_one_folder_even_when_the_rules_disagree(store: Catalog) -> None:
    """The still is oldest in a/, the video oldest in b/: decided alone, --prefer oldest would keep
    a/IMG_1.HEIC and b/IMG_1.MOV, splitting both pairs. The group decided second follows the first."""
    records = []
    for folder, still_time, video_time in (("a", 1, 9), ("b", 9, 1)):
        still, video = f"/{folder}/IMG_1.HEIC", f"/{folder}/IMG_1.MOV"
        pair_of_still, pair_of_video = (Companion("live_video", video),), (Companion("live_still", still),)
        records.append(
            make_record(
                still, checksum="still", mtime_ns=still_time, inode=still_time * 10, companions=pair_of_still
            )
        )
        records.append(
            make_record(video, checksum="video", mtime_ns=video_time, inode=video_time * 10 + 1, kind="video",
                        format="mov", companions=pair_of_video)
        )  # fmt: skip
    store.upsert_many(records)
    request = DupesRequest(
        ContentQuery(), Policy(prefer=("oldest",)), frozenset({"laptop"}), check_disk=False
    )
    plans = list(plan_dupes(store, request))
    kept = sorted(f.path for g in plans for f in g.files if f.decision == "keep")
    assert kept in (["/a/IMG_1.HEIC", "/a/IMG_1.MOV"], ["/b/IMG_1.HEIC", "/b/IMG_1.MOV"])
    removed = [f for g in plans for f in g.removed]
    assert len(removed) == 2 and any("goes with its companions" in f.reason for f in removed)


def rules_tree(root: Path) -> Path:
    """One real photo six times: two in a/ (one named like a copy), one deep in b/, one in c/ under
    a name of its own, one on another device (usb/); mtimes make b/ the oldest, a/'s copy the newest."""
    photo = copy_media(root / "src", "nikon_coolpix_p6000/DSCN0010.jpg") / "nikon_coolpix_p6000/DSCN0010.jpg"
    names = ("a/IMG_1.jpg", "a/IMG_1 (1).jpg", "b/deep/IMG_1.jpg", "c/x.jpg", "usb/IMG_1.jpg")
    for n, relative in enumerate(names):
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(photo, target)
        stamp = {"b/deep/IMG_1.jpg": 1, "a/IMG_1 (1).jpg": 9}.get(relative, 5) * 1_000_000_000_000_000_000
        os.utime(target, ns=(stamp, stamp + n))
    shutil.rmtree(root / "src")
    return root


RULES_CASES: dict[str, tuple[dict[str, object], set[str]]] = {
    "default: an original name, then the shortest path": ({}, {"c/x.jpg"}),
    "--same-dir": ({"same_dir": True}, {"a/IMG_1.jpg", "b/deep/IMG_1.jpg", "c/x.jpg"}),
    "--keep-copies 2": ({"keep_copies": 2}, {"c/x.jpg", "a/IMG_1.jpg"}),
    "--keep-in b": ({"keep_in": ("b",)}, {"b/deep/IMG_1.jpg"}),
    "--keep-in a --keep-in c": ({"keep_in": ("a", "c")}, {"a/IMG_1.jpg", "a/IMG_1 (1).jpg", "c/x.jpg"}),
    "--remove-from c": ({"remove_from": ("c",)}, {"a/IMG_1.jpg"}),
    "--prefer oldest": ({"prefer": ("oldest",)}, {"b/deep/IMG_1.jpg"}),
    "--prefer newest": ({"prefer": ("newest",)}, {"a/IMG_1 (1).jpg"}),
    "--prefer shortest-path": ({"prefer": ("shortest-path",)}, {"c/x.jpg"}),
    "--prefer original-name (then by path)": ({"prefer": ("original-name",)}, {"a/IMG_1.jpg"}),
    "--prefer root:b": ({"prefer": ("root:b",)}, {"b/deep/IMG_1.jpg"}),
    "--prefer root:a --prefer newest": ({"prefer": ("root:a", "newest")}, {"a/IMG_1 (1).jpg"}),
    "--keep-copies 2 --count-other-devices": ({"keep_copies": 2, "count_other_devices": True}, {"c/x.jpg"}),
    "--keep-copies 3 --remove-from a": (
        {"keep_copies": 3, "remove_from": ("a",)}, {"c/x.jpg", "b/deep/IMG_1.jpg", "a/IMG_1.jpg"}
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", RULES_CASES)
def test_each_rule_decides_on_each_store(store: Catalog, tmp_path: Path, case: str) -> None:
    """Each rule through the whole plan (catalog groups, disk check, policy) on each store. The copy
    on the other device is never removed, and counts toward N only with --count-other-devices."""
    root = rules_tree(tmp_path / "t")
    add_folder(store, str(root / "usb"), device="usb", recursive=True, workers=0)
    for folder in ("a", "b", "c"):
        add_folder(store, str(root / folder), device="d", recursive=True, workers=0)
    given, kept = RULES_CASES[case]
    options: dict[str, object] = dict(given)
    for option in ("keep_in", "remove_from"):
        if option in given:
            options[option] = tuple(str(root / f) for f in given[option])  # type: ignore[attr-defined]
    if "prefer" in given:
        options["prefer"] = tuple(p.replace("root:", f"root:{root}/") for p in given["prefer"])  # type: ignore[attr-defined]
    [group] = plan_dupes(store, request(**options))
    decided = {os.path.relpath(f.path, root): (f.decision, f.reason) for f in group.files}
    assert decided.pop("usb/IMG_1.jpg")[0] == "keep"
    assert {p for p, (d, _) in decided.items() if d == "keep"} == kept, decided
    assert all(reason for _, reason in decided.values())


def test_json_holds_exactly_the_documented_shape(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`{"groups": [{"checksum", "size", "files": [{"path", "device", "decision", "reason"}]}],
    "totals": {...}}` as the issue states, plus the documented extras (README): the group's
    under_protected, each file's state and hard links, and path_raw for a name that is not UTF-8."""
    root, db = _cli_tree(tmp_path)
    photo = next(root.rglob("photo (1).jpg"))
    odd = os.fsencode(root) + b"/odd\xff\x1b[31m.jpg"
    shutil.copyfile(photo, odd)
    imgcat(capsys, "add", "-r", str(root), "--db", str(db), "--device", "d", "-q")
    data = json.loads(imgcat(capsys, "dupes", "--db", str(db), "--device", "d", "--json").out)
    assert set(data) == {"groups", "totals"}
    assert set(data["totals"]) == {"groups", "files", "remove", "bytes", "under_protected", "stale"}
    [group] = data["groups"]
    assert set(group) == {"checksum", "size", "under_protected", "files"}
    assert (len(group["checksum"]), group["size"]) == (32, photo.stat().st_size)
    assert group["under_protected"] is None
    for file in group["files"]:
        assert set(file) - {"path_raw"} == {"path", "device", "decision", "reason", "state", "links"}
        assert (file["device"], file["state"], file["links"]) == ("d", "ok", [])
        assert file["decision"] in ("keep", "remove") and file["reason"]
    [strange] = [f for f in group["files"] if "path_raw" in f]
    assert os.fsencode(os.fsdecode(bytes.fromhex(strange["path_raw"]))) == odd
    assert strange["path"].endswith("/odd\\xff\x1b[31m.jpg")
    assert all("\udcff" not in f["reason"] for f in group["files"])  # a reason naming it is escaped too
    assert sorted(f["decision"] for f in group["files"]) == ["keep", "remove", "remove"]
    assert data["totals"] == {
        "groups": 1, "files": 3, "remove": 2, "bytes": 2 * group["size"], "under_protected": 0, "stale": 0
    }  # fmt: skip
