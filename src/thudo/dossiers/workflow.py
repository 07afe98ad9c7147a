"""Declarative workflows: one state machine per procedure, loaded from TOML and validated.

A definition names its states (with the time limit of each step and whether the
procedure's clock runs, pauses — waiting for the citizen — or has stopped) and its
actions (from which states, to which state, by which roles, whether a note is required).
A definition is refused when it loads if a state cannot be reached from the initial state,
if a state that is not final has no way out, if a state cannot lead to a final state, or if
it names unknown states or roles: a dossier can never be stranded by a bad definition.

`Timer` keeps the procedure's time limit in working time (thudo.core.calendar): it runs
in "running" states, is paused while the dossier waits for the citizen, and stops once
the result exists.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from thudo.core import calendar
from thudo.core.errors import DomainError, FieldError, Message

WORKFLOWS_DIR = Path(__file__).resolve().parent / "workflows"

# Who may act: the citizen herself, staff roles (identity), and the platform.
ROLES = frozenset(
    {
        "citizen",
        "system",
        "one_stop_officer",
        "specialist",
        "approver",
        "unit_admin",
        "city_admin",
        "auditor",
        "community_helper",
        "council_clerk",
        "leader",
    }
)
Clock = Literal["running", "paused", "stopped"]


class WorkflowDefinitionError(ValueError):
    """A definition that could strand a dossier; `problems` says every reason."""

    def __init__(self, code: str, problems: list[str]) -> None:
        super().__init__(f"workflow {code!r}: " + "; ".join(problems))
        self.code = code
        self.problems = problems


@dataclass(frozen=True)
class State:
    code: str
    name_vi: str
    name_en: str
    clock: Clock = "running"
    final: bool = False
    # Time limit of this step, in working days (None: only the procedure's limit applies).
    sla_days: float | None = None


@dataclass(frozen=True)
class Action:
    code: str
    name_vi: str
    name_en: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    note_required: bool = False


@dataclass(frozen=True)
class Workflow:
    code: str
    name_vi: str
    name_en: str
    initial: str
    states: Mapping[str, State]
    actions: Mapping[str, Action]

    def allowed(self, state: str, roles: Iterable[str] | None = None) -> list[Action]:
        """Actions possible from `state`, for someone holding `roles` (None: anyone)."""
        held = None if roles is None else frozenset(roles)
        return [
            a
            for a in self.actions.values()
            if state in a.sources and (held is None or a.roles & held)
        ]

    def transition(
        self, state: str, action: str, roles: Iterable[str], note: str | None = None
    ) -> Action:
        """The action if `roles` may take it from `state`, else a 409 naming what is allowed."""
        held = frozenset(roles)
        chosen = self.actions.get(action)
        if chosen is None or state not in chosen.sources or not (chosen.roles & held):
            raise transition_refused(self, state, action, held)
        if chosen.note_required and not (note or "").strip():
            raise DomainError(
                code="note-required",
                status=422,
                title=Message("Thiếu ghi chú", "A note is required"),
                detail=Message(
                    f"Thao tác “{chosen.name_vi}” cần ghi rõ lý do.",
                    f"The action “{chosen.name_en}” needs a note giving the reason.",
                ),
                errors=[
                    FieldError(
                        "note",
                        "note.required",
                        Message("Cần ghi rõ lý do.", "Give the reason."),
                    )
                ],
            )
        return chosen


def transition_refused(
    workflow: Workflow, state: str, action: str, roles: frozenset[str]
) -> DomainError:
    allowed = workflow.allowed(state, roles)
    names_vi = ", ".join(a.name_vi for a in allowed) or "không có"
    names_en = ", ".join(a.name_en for a in allowed) or "none"
    current = workflow.states[state]
    return DomainError(
        code="action-not-allowed",
        status=409,
        title=Message("Thao tác không được phép", "Action not allowed"),
        detail=Message(
            f"Không thể “{action}” khi hồ sơ ở trạng thái “{current.name_vi}”. "
            f"Được phép: {names_vi}.",
            f"“{action}” is not possible while the dossier is “{current.name_en}”. "
            f"Allowed: {names_en}.",
        ),
        extra={"state": state, "allowed_actions": [a.code for a in allowed]},
    )


def parse_workflow(data: Mapping[str, Any]) -> Workflow:
    """Build and validate a workflow from its TOML table."""
    code = str(data.get("code", "?"))
    problems: list[str] = []
    states: dict[str, State] = {}
    for key, raw in (data.get("states") or {}).items():
        clock = raw.get("clock", "running")
        if clock not in ("running", "paused", "stopped"):
            problems.append(f"state {key}: unknown clock {clock!r}")
            clock = "running"
        states[key] = State(
            code=key,
            name_vi=raw.get("name_vi", key),
            name_en=raw.get("name_en", key),
            clock=clock,
            final=bool(raw.get("final", False)),
            sla_days=raw.get("sla_days"),
        )
    actions: dict[str, Action] = {}
    for key, raw in (data.get("actions") or {}).items():
        action = Action(
            code=key,
            name_vi=raw.get("name_vi", key),
            name_en=raw.get("name_en", key),
            sources=frozenset(raw.get("from", [])),
            target=raw.get("to", ""),
            roles=frozenset(raw.get("roles", [])),
            note_required=bool(raw.get("note_required", False)),
        )
        for s in sorted(action.sources | {action.target}):
            if s not in states:
                problems.append(f"action {key}: unknown state {s!r}")
        if not action.sources:
            problems.append(f"action {key}: no source state")
        if unknown := sorted(action.roles - ROLES):
            problems.append(f"action {key}: unknown roles {unknown}")
        if not action.roles:
            problems.append(f"action {key}: nobody may take it")
        actions[key] = action
    initial = str(data.get("initial", ""))
    if initial not in states:
        problems.append(f"initial state {initial!r} is not a state")
    if not problems:
        problems += _graph_problems(initial, states, actions)
    if problems:
        raise WorkflowDefinitionError(code, problems)
    return Workflow(
        code=code,
        name_vi=str(data.get("name_vi", code)),
        name_en=str(data.get("name_en", code)),
        initial=initial,
        states=states,
        actions=actions,
    )


def _graph_problems(
    initial: str, states: Mapping[str, State], actions: Mapping[str, Action]
) -> list[str]:
    problems: list[str] = []
    edges: dict[str, set[str]] = {s: set() for s in states}
    for a in actions.values():
        for s in a.sources:
            edges[s].add(a.target)
    reachable = _closure({initial}, edges)
    for s in states:
        if s not in reachable:
            problems.append(f"state {s} cannot be reached from {initial}")
    for s, st in states.items():
        if st.final and edges[s]:
            problems.append(f"final state {s} has actions leading out of it")
        if not st.final and not edges[s]:
            problems.append(f"state {s} is a dead end (not final, no action out)")
    reverse: dict[str, set[str]] = {s: set() for s in states}
    for s, targets in edges.items():
        for t in targets:
            reverse[t].add(s)
    finals = {s for s, st in states.items() if st.final}
    if not finals:
        problems.append("no final state")
    leads_to_end = _closure(finals, reverse)
    for s in states:
        if s not in leads_to_end and not states[s].final:
            problems.append(f"state {s} can never lead to a final state")
    return problems


def _closure(start: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen, queue = set(start), deque(start)
    while queue:
        for nxt in edges[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def load_workflow_file(path: Path) -> Workflow:
    with path.open("rb") as fh:
        return parse_workflow(tomllib.load(fh))


@lru_cache(maxsize=1)
def workflows() -> Mapping[str, Workflow]:
    """Every workflow shipped with the platform, validated (a bad one stops the start)."""
    found = {}
    for path in sorted(WORKFLOWS_DIR.glob("*.toml")):
        wf = load_workflow_file(path)
        if wf.code != path.stem:
            raise WorkflowDefinitionError(
                wf.code, [f"file {path.name} must be named {wf.code}.toml"]
            )
        found[wf.code] = wf
    return found


def get_workflow(code: str) -> Workflow:
    try:
        return workflows()[code]
    except KeyError:
        raise KeyError(f"unknown workflow {code!r}") from None


# --- time limits -------------------------------------------------------------------------

Standing = Literal[
    "on_time", "due_soon", "overdue", "paused", "completed_on_time", "completed_late"
]


@dataclass(frozen=True)
class Timer:
    """The procedure's time limit: a budget of working time, consumed while running."""

    budget: dt.timedelta
    consumed: dt.timedelta = dt.timedelta(0)
    running_since: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    # Due moment as it stood when the result was completed (for on-time vs late).
    due_at_completion: dt.datetime | None = None

    @classmethod
    def for_days(cls, days: float) -> Timer:
        return cls(budget=calendar.WORKDAY * days)

    def run(self, at: dt.datetime) -> Timer:
        return (
            self
            if self.running_since is not None or self.completed_at
            else replace(self, running_since=at)
        )

    def pause(self, at: dt.datetime) -> Timer:
        if self.running_since is None:
            return self
        used = calendar.working_time_between(self.running_since, at)
        return replace(self, consumed=self.consumed + used, running_since=None)

    def stop(self, at: dt.datetime) -> Timer:
        if self.completed_at is not None:
            return self
        due = self.due_at()
        paused = self.pause(at)
        return replace(paused, completed_at=at, due_at_completion=due)

    def follow(self, clock: Clock, at: dt.datetime) -> Timer:
        """The timer after entering a state whose clock is `clock`."""
        if clock == "running":
            return self.run(at)
        if clock == "paused":
            return self.pause(at)
        return self.stop(at)

    def remaining(self, at: dt.datetime) -> dt.timedelta:
        used = self.consumed
        if self.running_since is not None:
            used += calendar.working_time_between(self.running_since, at)
        return self.budget - used

    def due_at(self) -> dt.datetime | None:
        """When the limit expires if the clock keeps running (None while paused)."""
        if self.completed_at is not None:
            return self.due_at_completion
        if self.running_since is None:
            return None
        left = self.budget - self.consumed
        if left <= dt.timedelta(0):
            # Already exhausted before it resumed: it expired the moment it resumed.
            return self.running_since.astimezone(dt.UTC)
        return calendar.add_working_time(self.running_since, left)

    def standing(self, at: dt.datetime, due_soon: dt.timedelta = calendar.WORKDAY) -> Standing:
        if self.completed_at is not None:
            late = self.due_at_completion is not None and self.completed_at > self.due_at_completion
            return "completed_late" if late else "completed_on_time"
        left = self.remaining(at)
        if left <= dt.timedelta(0) and (
            self.running_since is not None or self.consumed >= self.budget
        ):
            return "overdue"
        if self.running_since is None:
            return "paused"
        return "due_soon" if left <= due_soon else "on_time"


@dataclass(frozen=True)
class Step:
    """One entry of a dossier's history."""

    action: str
    from_state: str
    to_state: str
    at: dt.datetime
    actor: str
    roles: frozenset[str]
    note: str | None = None


@dataclass(frozen=True)
class Progress:
    """A dossier's place in its workflow, with its timer and history (pure value)."""

    workflow: Workflow
    state: str
    timer: Timer
    entered_at: dt.datetime
    history: tuple[Step, ...] = field(default_factory=tuple)

    @classmethod
    def start(cls, workflow: Workflow, *, days: float, at: dt.datetime) -> Progress:
        clock = workflow.states[workflow.initial].clock
        return cls(
            workflow=workflow,
            state=workflow.initial,
            timer=Timer.for_days(days).follow(clock, at),
            entered_at=at,
        )

    def act(
        self,
        action: str,
        *,
        roles: Iterable[str],
        actor: str,
        at: dt.datetime,
        note: str | None = None,
    ) -> Progress:
        chosen = self.workflow.transition(self.state, action, roles, note)
        target = self.workflow.states[chosen.target]
        step = Step(chosen.code, self.state, target.code, at, actor, frozenset(roles), note)
        return replace(
            self,
            state=target.code,
            timer=self.timer.follow(target.clock, at),
            entered_at=at,
            history=(*self.history, step),
        )

    def step_due_at(self) -> dt.datetime | None:
        """When the current step's own limit expires (None if it has none or is paused)."""
        st = self.workflow.states[self.state]
        if st.sla_days is None or st.clock != "running":
            return None
        return calendar.add_working_days(self.entered_at, st.sla_days)
