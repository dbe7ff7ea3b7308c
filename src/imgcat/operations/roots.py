"""Work over several roots at once: plan every root first, then apply the plans that pass.

`sync` runs it over every folder `add` cataloged on a device; `dupes` and `reorganize` reuse it
with their own plan, check and apply steps. The rules it keeps for all of them:

- every root is planned before any is applied, so a refusal found late changes nothing early;
- a plan that fails its check is not applied, and its outcome says why (`Refusal.reason`);
- a refusal the user may overrule (`Refusal.askable`) is put to `confirm` when one is given
  (the CLI asks on a terminal); never in a dry run;
- Ctrl-C (or SIGTERM/SIGHUP, which the CLI turns into it) stops the loop: the run says whether it
  stopped while planning (nothing was applied) or while applying which root.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a plan must not be applied as it stands."""

    reason: str
    askable: bool = False  # the user may overrule it when asked (never for an unplugged disk)


@dataclass(frozen=True, slots=True)
class RootOutcome(Generic[P]):
    """One root's plan and what became of it."""

    root: str
    plan: P
    refusal: Refusal | None = None
    applied: bool = False


@dataclass(frozen=True, slots=True)
class RootsRun(Generic[P]):
    """Every root's outcome, in the order given. `interrupted_at` names the root whose plan was
    being applied when the run was interrupted (part of it may be in the catalog); `interrupted`
    alone (with no root) means it stopped while planning, before anything was applied."""

    outcomes: tuple[RootOutcome[P], ...]
    dry_run: bool
    interrupted: bool = False
    interrupted_at: str | None = None

    @property
    def refused(self) -> tuple[RootOutcome[P], ...]:
        return tuple(o for o in self.outcomes if o.refusal is not None and not o.applied)

    @property
    def applied(self) -> tuple[RootOutcome[P], ...]:
        return tuple(o for o in self.outcomes if o.applied)


def plan_and_apply(
    roots: Sequence[str],
    *,
    plan: Callable[[str], P],
    check: Callable[[P], Refusal | None],
    apply: Callable[[P], None],
    dry_run: bool,
    confirm: Callable[[P, Refusal], bool] | None = None,
) -> RootsRun[P]:
    """Plan each root, then apply each plan that passes `check` (or that `confirm` lets through).
    A dry run plans and checks only. Never raises KeyboardInterrupt: the run says it stopped."""
    planned: list[RootOutcome[P]] = []
    try:
        for root in roots:
            made = plan(root)
            planned.append(RootOutcome(root, made, check(made)))
    except KeyboardInterrupt:
        return RootsRun(tuple(planned), dry_run, interrupted=True)
    if dry_run:
        return RootsRun(tuple(planned), dry_run)
    done: list[RootOutcome[P]] = []
    for index, outcome in enumerate(planned):
        try:
            refusal = outcome.refusal
            if refusal is not None and not (refusal.askable and confirm and confirm(outcome.plan, refusal)):
                done.append(outcome)
                continue
            apply(outcome.plan)
            done.append(RootOutcome(outcome.root, outcome.plan, refusal, applied=True))
        except KeyboardInterrupt:
            rest = (outcome, *planned[index + 1 :])
            return RootsRun((*done, *rest), dry_run, interrupted=True, interrupted_at=outcome.root)
    return RootsRun(tuple(done), dry_run)
