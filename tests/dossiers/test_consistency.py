"""Property: whatever sequence of API actions people try, a dossier stays consistent — its
state, history, timer, due dates and portal messages always agree, and a refused action
changes nothing."""

from __future__ import annotations

import itertools

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.dossiers.helpers import GUARDIANSHIP, WARD_UNIT, applicant, pdf_attachment, staff_of
from tests.identity.people import Person
from thudo.dossiers.models import Dossier, DossierEvent
from thudo.dossiers.workflow import get_workflow
from thudo.jobs.models import OutboxMessage

WORKFLOW = get_workflow("standard")
ACTIONS = sorted(WORKFLOW.actions)
WHO = ("citizen", "officer", "specialist", "approver")

steps = st.lists(
    st.tuples(st.sampled_from(WHO), st.sampled_from(ACTIONS), st.booleans()),
    min_size=1,
    max_size=14,
)


async def _check(db: AsyncSession, code: str) -> Dossier:
    db.expire_all()
    d = await db.scalar(select(Dossier).where(Dossier.code == code))
    assert d is not None
    wf = get_workflow(d.workflow_code)
    assert d.state in wf.states
    events = list(
        await db.scalars(
            select(DossierEvent).where(DossierEvent.dossier_id == d.id).order_by(DossierEvent.id)
        )
    )
    # The history is a chain from submission to the current state.
    assert events[0].action == "submit" and events[0].to_state == wf.initial
    for before, after in itertools.pairwise(events):
        assert after.from_state == before.to_state
        assert after.action in wf.actions and wf.actions[after.action].target == after.to_state
    assert events[-1].to_state == d.state
    # The timer follows the state's clock.
    clock = wf.states[d.state].clock
    if clock == "running":
        assert d.timer_running_since is not None and d.due_at is not None
        assert d.timer_completed_at is None
    elif clock == "paused":
        assert d.timer_running_since is None and d.due_at is None
    else:
        assert d.timer_completed_at is not None and d.timer_running_since is None
    assert d.timer_consumed_s >= 0
    if wf.states[d.state].sla_days is not None and clock == "running":
        assert d.step_due_at is not None
    # One portal message per status change, none lost, none doubled.
    sent = await db.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.payload["dossier_code"].as_string() == code)
    )
    assert sent == len(events)
    return d


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tries=steps)
async def test_no_sequence_of_api_actions_leaves_an_inconsistent_dossier(
    client: httpx.AsyncClient, db: AsyncSession, tries: list[tuple[str, str, bool]]
) -> None:
    people = await _people(db)
    r = await client.post(
        "/api/v1/dossiers",
        json={"procedure_code": GUARDIANSHIP, "attachments": [pdf_attachment()]},
        headers=people["citizen"].headers,
    )
    code = r.json()["code"]
    before = await _check(db, code)
    for who, action, with_note in tries:
        state, events = before.state, before.updated_at
        body = {"note": "Lý do ghi rõ"} if with_note else {}
        answer = await client.post(
            f"/api/v1/dossiers/{code}/actions/{action}", json=body, headers=people[who].headers
        )
        after = await _check(db, code)
        if answer.status_code == 200:
            assert after.state == WORKFLOW.actions[action].target
        else:
            assert answer.status_code in (409, 422), answer.text
            assert (after.state, after.updated_at) == (state, events)
            if answer.status_code == 409:
                assert isinstance(answer.json()["allowed_actions"], list)
        before = after


_cache: dict[int, dict[str, Person]] = {}


async def _people(db: AsyncSession) -> dict[str, Person]:
    # One cast per test (the fixture's transaction): made on the first example.
    key = id(db)
    if key not in _cache:
        staff = await staff_of(db, WARD_UNIT)
        _cache[key] = {
            "citizen": await applicant(db),
            "officer": staff.officer,
            "specialist": staff.specialist,
            "approver": staff.approver,
        }
    return _cache[key]
