"""The declarative workflows: validated when loaded, enforced on every action, timed in
working days."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thudo.core.calendar import VN_TZ, WORKDAY
from thudo.core.errors import DomainError
from thudo.dossiers.workflow import (
    Progress,
    Timer,
    WorkflowDefinitionError,
    get_workflow,
    parse_workflow,
    workflows,
)

STAFF = {"one_stop_officer", "specialist", "approver"}


def hanoi(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=VN_TZ)


def _definition(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code": "t",
        "initial": "a",
        "states": {"a": {}, "b": {}, "done": {"final": True, "clock": "stopped"}},
        "actions": {
            "go": {"from": ["a"], "to": "b", "roles": ["specialist"]},
            "end": {"from": ["b"], "to": "done", "roles": ["approver"]},
        },
    }
    for key, value in changes.items():
        base[key] = value
    return base


def test_the_shipped_workflows_load_and_the_standard_one_follows_the_one_stop_path() -> None:
    assert set(workflows()) == {"standard", "no_approval", "judicial_record"}
    wf = get_workflow("standard")
    path = ["receive", "assign", "submit_for_approval", "approve", "issue_result", "hand_over"]
    state = wf.initial
    for action in path:
        state = wf.transition(state, action, STAFF | {"system"}).target
    assert state == "returned" and wf.states[state].final


def test_an_unreachable_state_is_refused_when_the_definition_loads() -> None:
    states = {"a": {}, "b": {}, "lost": {}, "done": {"final": True}}
    actions = {
        "go": {"from": ["a"], "to": "b", "roles": ["specialist"]},
        "end": {"from": ["b", "lost"], "to": "done", "roles": ["approver"]},
    }
    with pytest.raises(WorkflowDefinitionError) as refused:
        parse_workflow(_definition(states=states, actions=actions))
    assert refused.value.problems == ["state lost cannot be reached from a"]


def test_a_dead_end_is_refused_when_the_definition_loads() -> None:
    states = {"a": {}, "b": {}, "stuck": {}, "done": {"final": True}}
    actions = {
        "go": {"from": ["a"], "to": "b", "roles": ["specialist"]},
        "trap": {"from": ["a"], "to": "stuck", "roles": ["specialist"]},
        "end": {"from": ["b"], "to": "done", "roles": ["approver"]},
    }
    with pytest.raises(WorkflowDefinitionError) as refused:
        parse_workflow(_definition(states=states, actions=actions))
    assert "state stuck is a dead end (not final, no action out)" in refused.value.problems


def test_a_loop_with_no_way_to_an_end_is_refused() -> None:
    states = {"a": {}, "b": {}, "c": {}, "done": {"final": True}}
    actions = {
        "go": {"from": ["a"], "to": "b", "roles": ["specialist"]},
        "spin": {"from": ["b"], "to": "c", "roles": ["specialist"]},
        "spin_back": {"from": ["c"], "to": "b", "roles": ["specialist"]},
        "end": {"from": ["a"], "to": "done", "roles": ["approver"]},
    }
    with pytest.raises(WorkflowDefinitionError) as refused:
        parse_workflow(_definition(states=states, actions=actions))
    assert "state b can never lead to a final state" in refused.value.problems


def test_unknown_states_and_roles_are_named() -> None:
    actions = {
        "go": {"from": ["a"], "to": "nowhere", "roles": ["wizard"]},
        "end": {"from": ["b"], "to": "done", "roles": ["approver"]},
    }
    with pytest.raises(WorkflowDefinitionError) as refused:
        parse_workflow(_definition(actions=actions))
    assert "action go: unknown state 'nowhere'" in refused.value.problems
    assert "action go: unknown roles ['wizard']" in refused.value.problems


def test_an_action_not_allowed_now_is_a_409_listing_the_allowed_ones() -> None:
    wf = get_workflow("standard")
    with pytest.raises(DomainError) as refused:
        wf.transition("submitted", "approve", {"approver", "one_stop_officer"})
    assert refused.value.status == 409
    assert refused.value.extra["allowed_actions"] == ["receive", "return_for_supplement"]


def test_an_action_for_another_role_is_refused_even_in_the_right_state() -> None:
    wf = get_workflow("standard")
    with pytest.raises(DomainError) as refused:
        wf.transition("awaiting_approval", "approve", {"specialist"})
    assert refused.value.status == 409
    assert refused.value.extra["allowed_actions"] == []


def test_refusing_needs_a_note_naming_the_field() -> None:
    wf = get_workflow("standard")
    with pytest.raises(DomainError) as refused:
        wf.transition("awaiting_approval", "refuse", {"approver"}, note="  ")
    assert refused.value.status == 422 and refused.value.errors[0].field == "note"


def test_the_clock_stops_while_the_citizen_supplements_and_the_due_date_moves_by_that_time() -> (
    None
):
    wf = get_workflow("standard")
    staff = STAFF | {"citizen"}
    p = Progress.start(wf, days=5, at=hanoi(2026, 3, 2, 8, 0))  # Monday
    assert p.timer.due_at() == hanoi(2026, 3, 6, 17, 0)  # Friday closing time
    p = p.act("receive", roles=staff, actor="officer", at=hanoi(2026, 3, 2, 9, 0))
    p = p.act("assign", roles=staff, actor="officer", at=hanoi(2026, 3, 2, 10, 0))
    p = p.act(
        "request_supplement", roles=staff, actor="specialist", at=hanoi(2026, 3, 3, 8, 0), note="x"
    )
    assert p.timer.due_at() is None
    assert p.timer.standing(hanoi(2026, 3, 20, 8, 0)) == "paused"
    # She supplies a week later: the 4 working days left run from then.
    p = p.act("supplement", roles=staff, actor="citizen", at=hanoi(2026, 3, 10, 8, 0))
    assert p.timer.due_at() == hanoi(2026, 3, 13, 17, 0)
    assert [s.action for s in p.history] == [
        "receive",
        "assign",
        "request_supplement",
        "supplement",
    ]


def test_a_dossier_completed_after_its_due_date_is_late_and_an_open_one_overdue() -> None:
    t = Timer.for_days(1).run(hanoi(2026, 3, 2, 8, 0))
    assert t.standing(hanoi(2026, 3, 2, 9, 0)) == "due_soon"
    assert t.standing(hanoi(2026, 3, 3, 9, 0)) == "overdue"
    assert t.stop(hanoi(2026, 3, 3, 9, 0)).standing(hanoi(2026, 4, 1, 9, 0)) == "completed_late"
    assert t.stop(hanoi(2026, 3, 2, 16, 0)).standing(hanoi(2026, 4, 1, 9, 0)) == (
        "completed_on_time"
    )


ALL_ROLES = ["citizen", "system", "one_stop_officer", "specialist", "approver", "community_helper"]


@settings(max_examples=200, deadline=None)
@given(
    code=st.sampled_from(["standard", "no_approval", "judicial_record"]),
    choices=st.lists(st.integers(min_value=0, max_value=50), max_size=25),
    gaps=st.lists(st.integers(min_value=0, max_value=3 * 24 * 60), min_size=25, max_size=25),
)
def test_no_sequence_of_allowed_actions_leaves_an_inconsistent_dossier(
    code: str, choices: list[int], gaps: list[int]
) -> None:
    wf = get_workflow(code)
    at = hanoi(2026, 2, 10, 8, 0)
    p = Progress.start(wf, days=10, at=at)
    for choice, gap in zip(choices, gaps, strict=False):
        allowed = wf.allowed(p.state, ALL_ROLES)
        if not allowed:
            break
        action = allowed[choice % len(allowed)]
        at = at + dt.timedelta(minutes=gap)
        before = p
        p = p.act(action.code, roles=ALL_ROLES, actor="x", at=at, note="lý do")
        state = wf.states[p.state]
        # The state exists, the history grew by exactly this step, from where we were.
        assert p.history[-1].from_state == before.state and p.history[-1].to_state == p.state
        assert len(p.history) == len(before.history) + 1
        # The clock follows the state: running only in running states, stopped at the end.
        assert (p.timer.running_since is not None) == (
            state.clock == "running" and p.timer.completed_at is None
        )
        if state.final:
            assert p.timer.completed_at is not None and wf.allowed(p.state, ALL_ROLES) == []
        # Working time consumed never exceeds elapsed working time, and never goes back.
        assert p.timer.consumed >= before.timer.consumed
        assert p.timer.remaining(at) <= WORKDAY * 10
    # Whatever happened, an allowed action (or none, at the end) is always known.
    assert wf.states[p.state].final or wf.allowed(p.state, ALL_ROLES)
