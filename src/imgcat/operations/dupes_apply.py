"""`dupes --apply` and `--script`: the decisions of `plan_dupes` as steps for `imgcat.actions`.

Apart from `operations/dupes.py` so that a dry run, the common case, does not load the actions
layer (journal, execution, trash, undo) it never uses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

from imgcat.actions import (
    ActionEvents,
    PlannedRun,
    RunResult,
    Step,
    aside_target,
    cancel_run,
    carry_out,
    lstat_or_none,
    start_run,
)
from imgcat.catalog.base import Catalog, batched
from imgcat.operations.dupes import PAGE_GROUPS, Action, GroupPlan


def dupes_steps(
    catalog: Catalog, groups: Iterable[GroupPlan], action: Action, to: str | None
) -> Iterator[Step]:
    """The steps that carry out the removals of `groups`: one unit per removed file (its hard links
    and the sidecars that go with it), each checked against the kept copies before it is done.
    `move-to` mirrors each file's absolute path below `to`."""
    unit = 0
    for page in batched(groups, PAGE_GROUPS):
        wanted: dict[str, set[str]] = defaultdict(set)
        for group in page:
            for file in group.removed:
                wanted[file.device].update(file.paths)
        records = {(device, path): record for device, paths in wanted.items()
                   for path, record in catalog.get_many(device, paths).items()}  # fmt: skip
        for group in page:
            for file in group.removed:
                unit += 1
                references = group.references(file)
                for path in file.paths:
                    record = records.get((file.device, path))
                    mtime_ns = file.mtime_ns if record is None else record.mtime_ns
                    yield Step(
                        action, path, group.size, mtime_ns, target=aside_target(action, to, path),
                        references=references, record=record, unit=unit, note=file.reason,
                    )  # fmt: skip
                for sidecar, twin in file.sidecars:
                    info = lstat_or_none(sidecar)
                    if info is None:
                        continue  # gone since planned: nothing to carry along
                    yield Step(
                        action, sidecar, info.st_size, info.st_mtime_ns,
                        target=aside_target(action, to, sidecar), references=(twin,), unit=unit,
                        note=f"sidecar of {file.path}",
                    )  # fmt: skip


def apply_dupes(
    catalog: Catalog,
    groups: Iterable[GroupPlan],
    *,
    action: Action,
    to: str | None,
    command: str,
    confirm: Callable[[PlannedRun], bool],
    events: ActionEvents | None = None,
) -> RunResult | None:
    """Journal the removals of `groups`, ask `confirm` (the CLI's question), then carry them out.
    None when there was nothing to do or the answer was no (then nothing was changed)."""
    run = start_run(dupes_steps(catalog, groups, action, to), command=command, catalog=catalog)
    try:
        go = run.steps > 0 and confirm(run)
    except BaseException:  # Ctrl-C at the question, a broken pipe: not a yes
        cancel_run(run)
        raise
    if not go:
        cancel_run(run)
        return None
    return carry_out(run, catalog, events=events)  # refused as busy, it leaves no plan behind
