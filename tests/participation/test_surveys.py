"""Surveys: staff build and open them, a citizen of the audience answers once, results are
counted, exported without personal data, and public once closed."""

from __future__ import annotations

import csv
import datetime as dt
import io

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.people import BA_DINH, HOAN_KIEM, citizen, form_token, grant, sign_in
from tests.participation.helpers import make_survey, question_ids
from thudo.core.clock import now
from thudo.participation import service
from thudo.participation.models import Answer, Response


async def _answer(
    client: httpx.AsyncClient, person, survey_id: int, answers: dict
) -> httpx.Response:  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/participation/surveys/{survey_id}/responses",
        json={"answers": answers},
        headers=person.headers,
    )


async def test_a_citizen_answers_once_and_a_second_answer_is_refused_with_the_first_kept(
    db: AsyncSession, client: httpx.AsyncClient
) -> None:
    survey = await make_survey(db)
    me = await citizen(db, "Nguyễn Thị Lan")
    await sign_in(db, me, amr=("pwd",))
    q1, q2, q3, q4 = await question_ids(db, survey)
    listed = (await client.get("/api/v1/participation/surveys", headers=me.headers)).json()
    assert [(s["id"], s["answered"]) for s in listed if s["id"] == survey.id] == [
        (survey.id, False)
    ]

    first = await _answer(
        client, me, survey.id, {q1: 0, q2: [0, 2], q3: 4, q4: "Cần hướng dẫn rõ hơn"}
    )
    assert first.status_code == 201, first.text
    again = await _answer(client, me, survey.id, {q1: 1, q3: 1})
    assert again.status_code == 409
    body = again.json()
    assert "một lần" in body["detail_vi"] if "detail_vi" in body else "một lần" in body["detail"]
    assert "first answer is kept" in str(body)

    rows = await db.scalar(
        select(func.count()).select_from(Response).where(Response.survey_id == survey.id)
    )
    assert rows == 1
    kept = set(
        await db.scalars(
            select(Answer.value).where(Answer.survey_id == survey.id, Answer.question_id == int(q1))
        )
    )
    assert kept == {0}
    listed = (await client.get("/api/v1/participation/surveys", headers=me.headers)).json()
    assert [s["answered"] for s in listed if s["id"] == survey.id] == [True]


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({}, "q1"),  # a required question left out
        ({"q1": 5, "q3": 3}, "q1"),  # not one of the choices
        ({"q1": 0, "q3": 9}, "q3"),  # outside the scale
        ({"q1": 0, "q3": 3, "q2": [0, 0]}, "q2"),  # the same choice twice
        ({"q1": 0, "q3": 3, "q4": "x" * 2001}, "q4"),  # too long
        ({"q1": "Đã nộp", "q3": 3}, "q1"),  # a label instead of its index
        ({"q1": 0, "q3": 3, "999999": 1}, "999999"),  # no such question
    ],
)
async def test_answers_that_do_not_fit_the_questions_are_refused_naming_the_question(
    db: AsyncSession,
    client: httpx.AsyncClient,
    answers: dict,
    field: str,  # type: ignore[type-arg]
) -> None:
    survey = await make_survey(db)
    me = await citizen(db, "Trần Văn Hùng")
    await sign_in(db, me, amr=("pwd",))
    ids = dict(zip(("q1", "q2", "q3", "q4"), await question_ids(db, survey), strict=True))
    sent = {ids.get(k, k): v for k, v in answers.items()}
    r = await _answer(client, me, survey.id, sent)
    assert r.status_code == 422, r.text
    assert f"answers.{ids.get(field, field)}" in [e["field"] for e in r.json()["errors"]]
    assert (
        await db.scalar(
            select(func.count()).select_from(Response).where(Response.survey_id == survey.id)
        )
        == 0
    )


async def test_the_audience_decides_who_may_answer(
    db: AsyncSession, client: httpx.AsyncClient
) -> None:
    survey = await make_survey(db, audience_ward_code=BA_DINH, audience_level2=True)
    elsewhere = await citizen(db, "Lê Thị Xa", HOAN_KIEM, level=2)
    level1 = await citizen(db, "Lê Văn Một", BA_DINH, level=1)
    resident = await citizen(db, "Lê Thị Hai", BA_DINH, level=2)
    visitor = await citizen(db, "Đỗ Văn Tạm", HOAN_KIEM, temporary_ward_code=BA_DINH, level=2)
    for p in (elsewhere, level1, resident, visitor):
        await sign_in(db, p, amr=("pwd",))
    q1, _, q3, _ = await question_ids(db, survey)
    ok = {q1: 0, q3: 5}
    refused = await _answer(client, elsewhere, survey.id, ok)
    assert refused.status_code == 403 and "phường" in refused.json()["detail"]
    assert (await _answer(client, level1, survey.id, ok)).status_code == 403
    assert (await _answer(client, resident, survey.id, ok)).status_code == 201
    assert (await _answer(client, visitor, survey.id, ok)).status_code == 201  # staying there
    listed = (await client.get("/api/v1/participation/surveys", headers=elsewhere.headers)).json()
    assert survey.id not in [s["id"] for s in listed]


async def test_an_age_range_excludes_people_outside_it(
    db: AsyncSession, client: httpx.AsyncClient
) -> None:
    survey = await make_survey(db, audience_min_age=18, audience_max_age=35)
    older = await citizen(db, "Vũ Thị Già")  # born in 1985
    await sign_in(db, older, amr=("pwd",))
    q1, _, q3, _ = await question_ids(db, survey)
    r = await _answer(client, older, survey.id, {q1: 0, q3: 5})
    assert r.status_code == 403 and "35" in r.json()["detail"]


async def test_drafts_are_invisible_and_closed_surveys_take_no_answers(
    db: AsyncSession, client: httpx.AsyncClient
) -> None:
    draft = await make_survey(db, opened=False)
    assert (await client.get(f"/api/v1/participation/surveys/{draft.id}")).status_code == 404
    closed = await make_survey(db)
    await service.close_survey(db, survey=closed)
    me = await citizen(db, "Phạm Văn Muộn")
    await sign_in(db, me, amr=("pwd",))
    q1, _, q3, _ = await question_ids(db, closed)
    r = await _answer(client, me, closed.id, {q1: 0, q3: 5})
    assert r.status_code == 409 and "kết thúc" in r.json()["detail"]


async def test_anonymous_callers_may_not_answer(
    db: AsyncSession, client: httpx.AsyncClient
) -> None:
    survey = await make_survey(db)
    r = await client.post(
        f"/api/v1/participation/surveys/{survey.id}/responses", json={"answers": {}}
    )
    assert r.status_code == 401


async def test_results_are_counted_and_public_only_once_the_survey_has_closed(
    db: AsyncSession, client: httpx.AsyncClient
) -> None:
    survey = await make_survey(db)
    q1, q2, q3, q4 = await question_ids(db, survey)
    for i, (choice, picks, point) in enumerate([(0, [0], 5), (0, [0, 1], 4), (1, [], 3)]):
        p = await citizen(db, f"Người Trả Lời {i}")
        await sign_in(db, p, amr=("pwd",))
        r = await _answer(
            client, p, survey.id, {q1: choice, q2: picks, q3: point, q4: f"Ý kiến số {i}"}
        )
        assert r.status_code == 201
    assert (
        await client.get(f"/api/v1/participation/surveys/{survey.id}/results")
    ).status_code == 404
    survey.closes_at = now() - dt.timedelta(seconds=1)
    await db.flush()
    assert await service.publish_closed_results(db) >= 1
    body = (await client.get(f"/api/v1/participation/surveys/{survey.id}/results")).json()
    assert body["responses"] == 3
    by_q = {str(q["question_id"]): q for q in body["questions"]}
    assert [(b["label"], b["count"]) for b in by_q[q1]["bars"]] == [("Đã nộp", 2), ("Chưa nộp", 1)]
    assert [b["count"] for b in by_q[q2]["bars"]] == [2, 1, 0] and by_q[q2]["answered"] == 2
    assert by_q[q3]["mean"] == 4.0
    assert by_q[q4]["text_answers"] == 3 and "Ý kiến" not in str(body)  # texts stay with staff
    page = await client.get(f"/khao-sat/{survey.id}/ket-qua")
    assert page.status_code == 200 and "<svg" in page.text and "66.7%" in page.text


async def test_staff_build_a_survey_from_the_pages_and_export_responses_without_personal_data(
    db: AsyncSession, client: httpx.AsyncClient, app: FastAPI
) -> None:
    editor = await citizen(db, "Hoàng Thị Biên")
    await grant(db, editor, "survey_editor", "HN-SNV")
    await sign_in(db, editor)
    token = form_token(app)
    r = await client.post("/can-bo/khao-sat/moi", headers=editor.headers, data={
        "csrf_token": token, "title": "Phân loại rác tại nguồn", "unit_code": "HN-SNV",
        "opens_on": (now() - dt.timedelta(days=1)).date().isoformat(),
        "closes_on": (now() + dt.timedelta(days=10)).date().isoformat(),
    })  # fmt: skip
    assert r.status_code == 303, r.text
    path = r.headers["location"]
    bad = await client.post(f"{path}/cau-hoi", headers=editor.headers,
                            data={"csrf_token": token, "kind": "single", "text": "Một lựa chọn?", "options": "Chỉ một"})  # fmt: skip
    assert bad.status_code == 422 and "2 đến 12" in bad.text
    for data in (
        {
            "kind": "single",
            "text": "Gia đình bạn đã phân loại rác chưa?",
            "options": "Đã phân loại\nChưa",
            "required": "yes",
        },
        {
            "kind": "scale",
            "text": "Mức độ thuận tiện",
            "scale_min": "1",
            "scale_max": "5",
            "required": "yes",
        },
        {"kind": "text", "text": "Đề xuất"},
    ):
        assert (
            await client.post(
                f"{path}/cau-hoi", headers=editor.headers, data={"csrf_token": token, **data}
            )
        ).status_code == 303
    assert (
        await client.post(f"{path}/mo", headers=editor.headers, data={"csrf_token": token})
    ).status_code == 303
    page = await client.get(path, headers=editor.headers)
    assert "Đang mở" in page.text
    survey_id = int(path.rsplit("/", 1)[1])
    # A citizen answers through her page.
    me = await citizen(db, "Ngô Thị Phiếu")
    await sign_in(db, me, amr=("pwd",))
    ids = await question_ids(db, await service.published(db, survey_id))
    form = {
        "csrf_token": token,
        f"q{ids[0]}": "0",
        f"q{ids[1]}": "4",
        f"q{ids[2]}": "Thêm thùng rác",
    }
    r = await client.post(f"/khao-sat/{survey_id}", headers=me.headers, data=form)
    assert r.status_code == 303
    again = await client.post(f"/khao-sat/{survey_id}", headers=me.headers, data=form)
    assert again.status_code == 409 and "một lần" in again.text
    missing = await citizen(db, "Ngô Văn Thiếu")
    await sign_in(db, missing, amr=("pwd",))
    r = await client.post(
        f"/khao-sat/{survey_id}", headers=missing.headers, data={"csrf_token": token}
    )
    assert r.status_code == 422 and "Câu hỏi bắt buộc" in r.text
    # Live results and the export.
    results = await client.get(f"{path}/ket-qua", headers=editor.headers)
    assert (
        results.status_code == 200 and "Thêm thùng rác" in results.text and "100%" in results.text
    )
    exported = await client.get(f"{path}/ket-qua.csv", headers=editor.headers)
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[1][2:] == ["Đã phân loại", "4", "Thêm thùng rác"]
    assert me.personal_id not in exported.text and "Ngô Thị Phiếu" not in exported.text


async def test_survey_staff_of_another_unit_do_not_see_the_survey(
    db: AsyncSession, client: httpx.AsyncClient
) -> None:
    survey = await make_survey(db)  # Sở Nội vụ
    other = await citizen(db, "Trịnh Văn Khác")
    await grant(db, other, "survey_editor", "HN-SYT")
    await sign_in(db, other)
    assert (
        await client.get(f"/can-bo/khao-sat/{survey.id}", headers=other.headers)
    ).status_code == 404
    assert (
        await client.get(f"/can-bo/khao-sat/{survey.id}/ket-qua.csv", headers=other.headers)
    ).status_code == 404
    city = await citizen(db, "Đinh Thị Thành")
    await grant(db, city, "city_admin", "HN")
    await sign_in(db, city)
    assert (
        await client.get(f"/can-bo/khao-sat/{survey.id}", headers=city.headers)
    ).status_code == 200


async def test_the_survey_page_lists_open_surveys_to_anyone_and_hers_when_signed_in(
    db: AsyncSession, client: httpx.AsyncClient
) -> None:
    survey = await make_survey(db, title="Ý kiến về xe buýt điện")
    page = await client.get("/khao-sat")
    assert (
        page.status_code == 200
        and "Ý kiến về xe buýt điện" in page.text
        and "Đăng nhập" in page.text
    )
    me = await citizen(db, "Tạ Thị Xem")
    await sign_in(db, me, amr=("pwd",))
    page = await client.get("/khao-sat", headers=me.headers)
    assert "Khảo sát dành cho bạn" in page.text and f"/khao-sat/{survey.id}" in page.text
    form = await client.get(f"/khao-sat/{survey.id}", headers=me.headers)
    assert form.status_code == 200 and "Gửi câu trả lời" in form.text
