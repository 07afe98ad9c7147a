"""One citizen submitting the same survey many times at once leaves exactly one response."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import delete, func, select

from tests.identity.people import citizen, sign_in
from tests.participation.helpers import make_survey, question_ids
from thudo.app import create_app
from thudo.core.db import create_engine, session_factory
from thudo.core.settings import Settings
from thudo.identity.models import Account, Session
from thudo.participation.models import Answer, Question, Response, Survey
from thudo.registry.models import Citizen, CitizenChange

N = 20


async def test_twenty_simultaneous_submits_by_one_citizen_store_exactly_one_response(
    settings: Settings, engine: object
) -> None:
    # Real, separately committed transactions (not the suite's rolled-back one).
    own_engine = create_engine(settings.database_url, pool_size=N)
    factory = session_factory(own_engine)
    survey_id = 0
    person = None
    try:
        async with factory() as db:
            survey = await make_survey(db, title="Khảo sát thử đồng thời")
            survey_id = survey.id
            person = await citizen(db, "Bùi Thị Đồng Thời")
            await sign_in(db, person, amr=("pwd",))
            q1, q2, q3, _ = await question_ids(db, survey)
            await db.commit()
        app = create_app(settings, access_log=False)
        app.state.engine = own_engine
        app.state.session_factory = factory
        answers = {"answers": {q1: 0, q2: [1, 2], q3: 4}}
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/participation/surveys/{survey_id}/responses",
                        json=answers,
                        headers=person.headers,
                    )
                    for _ in range(N)
                )
            )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * (N - 1), [
            r.text for r in responses if r.status_code not in (201, 409)
        ]
        assert all(
            "survey-already-answered" in r.json()["type"] for r in responses if r.status_code == 409
        )
        async with factory() as db:
            stored = await db.scalar(
                select(func.count()).select_from(Response).where(Response.survey_id == survey_id)
            )
            assert stored == 1
            answer_rows = await db.scalar(
                select(func.count()).select_from(Answer).where(Answer.survey_id == survey_id)
            )
            assert answer_rows == 4  # one single choice, two ticks, one point of the scale
    finally:
        async with factory() as db:
            await db.execute(delete(Answer).where(Answer.survey_id == survey_id))
            await db.execute(delete(Response).where(Response.survey_id == survey_id))
            await db.execute(delete(Question).where(Question.survey_id == survey_id))
            await db.execute(delete(Survey).where(Survey.id == survey_id))
            if person is not None:
                await db.execute(delete(Session).where(Session.account_id == person.account_id))
                await db.execute(delete(Account).where(Account.personal_id == person.personal_id))
                await db.execute(
                    delete(CitizenChange).where(CitizenChange.personal_id == person.personal_id)
                )
                await db.execute(delete(Citizen).where(Citizen.personal_id == person.personal_id))
            await db.commit()
        await own_engine.dispose()
