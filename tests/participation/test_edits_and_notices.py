"""Staff edit a survey (everything while a draft; once opened its title, description and
closing day only; never once closed), every edit is kept; when a survey opens its audience
is told in the app, a window of accounts per transaction; an agency is told when a voter
petition is assigned to it."""

from __future__ import annotations

import datetime as dt
import functools

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.identity.people import BA_DINH, HOAN_KIEM, Person, citizen, form_token, grant, sign_in
from tests.participation.helpers import make_survey
from thudo.core.clock import now, to_vn, today_vn
from thudo.jobs.runner import until_done
from thudo.notify.models import Message
from thudo.participation import service
from thudo.participation.models import Survey, SurveyChange
from thudo.registry.models import Citizen


async def _editor(db: AsyncSession, unit_code: str = "HN-SNV") -> Person:
    editor = await citizen(db, "Hoàng Thị Sửa")
    await grant(db, editor, "survey_editor", unit_code)
    await sign_in(db, editor)
    return editor


async def _edits(db: AsyncSession, survey: Survey) -> list[SurveyChange]:
    return list(
        await db.scalars(
            select(SurveyChange)
            .where(SurveyChange.survey_id == survey.id)
            .order_by(SurveyChange.id)
        )
    )


def _day(days: int) -> str:
    return (today_vn() + dt.timedelta(days=days)).isoformat()


async def test_a_draft_survey_is_edited_in_full_from_its_page_and_the_edit_is_kept(
    db: AsyncSession, client: httpx.AsyncClient, app: FastAPI
) -> None:
    survey = await make_survey(db, title="Khảo sát nháp", opened=False)
    editor = await _editor(db)
    token = form_token(app)
    path = f"/can-bo/khao-sat/{survey.id}"
    form = await client.get(f"{path}/sua", headers=editor.headers)
    assert form.status_code == 200 and 'value="Khảo sát nháp"' in form.text
    assert 'name="audience_ward_code"' in form.text  # a draft's audience may change
    bad = await client.post(f"{path}/sua", headers=editor.headers, data={
        "csrf_token": token, "title": "Khảo sát về chợ dân sinh", "opens_on": _day(3),
        "closes_on": _day(2), "audience_min_age": "18", "audience_max_age": "12"})  # fmt: skip
    assert bad.status_code == 422
    assert "Ngày đóng phải sau ngày mở." in bad.text and "Tuổi tối đa" in bad.text
    await db.refresh(survey)
    assert survey.title == "Khảo sát nháp" and await _edits(db, survey) == []  # nothing changed

    r = await client.post(f"{path}/sua", headers=editor.headers, data={
        "csrf_token": token, "title": "Khảo sát về chợ dân sinh", "description": "Ý kiến của bạn",
        "opens_on": _day(3), "closes_on": _day(20), "audience_ward_code": BA_DINH,
        "audience_min_age": "18", "audience_max_age": "60", "audience_level2": "yes"})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == f"{path}?ok=edited"
    await db.refresh(survey)
    assert (survey.title, survey.description) == ("Khảo sát về chợ dân sinh", "Ý kiến của bạn")
    assert (survey.audience_ward_code, survey.audience_min_age, survey.audience_max_age) == (
        BA_DINH, 18, 60,
    )  # fmt: skip
    assert survey.audience_level2 is True
    assert to_vn(survey.opens_at).date() == today_vn() + dt.timedelta(days=3)
    assert to_vn(survey.closes_at).date() == today_vn() + dt.timedelta(days=21)  # end of day 20
    [edit] = await _edits(db, survey)
    assert edit.changed_by_name == "Hoàng Thị Sửa"
    assert edit.changes["title"] == ["Khảo sát nháp", "Khảo sát về chợ dân sinh"]
    assert edit.changes["audience_ward_code"] == [None, BA_DINH]
    assert set(edit.changes) == {
        "title", "description", "opens_at", "closes_at", "audience_ward_code",
        "audience_min_age", "audience_max_age", "audience_level2",
    }  # fmt: skip
    page = await client.get(f"{path}?ok=edited", headers=editor.headers)
    assert "Đã lưu thay đổi." in page.text and "Lịch sử sửa đổi" in page.text
    assert "Hoàng Thị Sửa: sửa tên, giới thiệu" in page.text
    # Sending the form again unchanged records no second edit.
    same = await client.post(f"{path}/sua", headers=editor.headers, data={
        "csrf_token": token, "title": "Khảo sát về chợ dân sinh", "description": "Ý kiến của bạn",
        "opens_on": _day(3), "closes_on": _day(20), "audience_ward_code": BA_DINH,
        "audience_min_age": "18", "audience_max_age": "60", "audience_level2": "yes"})  # fmt: skip
    assert same.status_code == 303 and len(await _edits(db, survey)) == 1
    # Sent back with an error, the form shows what she sent (the box she unticked too).
    blank = await client.post(f"{path}/sua", headers=editor.headers, data={
        "csrf_token": token, "title": "", "opens_on": _day(3), "closes_on": _day(20)})  # fmt: skip
    assert blank.status_code == 422 and "Vui lòng nhập." in blank.text
    assert 'name="audience_level2" value="yes" checked' not in blank.text
    assert 'name="audience_level2" value="yes">' in blank.text


async def test_an_open_survey_takes_a_new_title_and_closing_time_but_keeps_audience_and_opening(
    db: AsyncSession, client: httpx.AsyncClient
) -> None:
    survey = await make_survey(db, audience_min_age=18)
    editor = await _editor(db)
    url = f"/api/v1/participation/surveys/{survey.id}"
    opened_at, closes_at = survey.opens_at, survey.closes_at

    later = closes_at + dt.timedelta(days=7)
    r = await client.patch(url, headers=editor.headers,
                           json={"title": "Đánh giá dịch vụ công (sửa)", "closes_at": later.isoformat()})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Đánh giá dịch vụ công (sửa)" and r.json()["state"] == "open"

    for body, field in (
        ({"audience_ward_code": BA_DINH}, "audience_ward_code"),
        ({"audience_min_age": None}, "audience_min_age"),
        ({"audience_level2": True}, "audience_level2"),
        ({"opens_at": (opened_at - dt.timedelta(days=1)).isoformat(), "title": "X"}, "opens_at"),
    ):
        refused = await client.patch(url, headers=editor.headers, json=body)
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in problem["errors"]] == [field]
        assert problem["errors"][0]["message_vi"] and problem["errors"][0]["message_en"]

    past = await client.patch(url, headers=editor.headers,
                              json={"closes_at": (now() - dt.timedelta(minutes=5)).isoformat()})  # fmt: skip
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "closes_at"
    assert "đã qua" in past.json()["errors"][0]["message_vi"]
    blank = await client.patch(url, headers=editor.headers, json={"title": "  "})
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "title"
    naive = await client.patch(
        url, headers=editor.headers, json={"closes_at": "2027-01-01T00:00:00"}
    )
    assert naive.status_code == 422 and "closes_at" in naive.json()["errors"][0]["field"]

    earlier = now() + dt.timedelta(hours=2)  # earlier than planned, not in the past
    assert (
        await client.patch(url, headers=editor.headers, json={"closes_at": earlier.isoformat()})
    ).status_code == 200
    await db.refresh(survey)
    assert survey.title == "Đánh giá dịch vụ công (sửa)" and survey.audience_min_age == 18
    assert survey.audience_ward_code is None and survey.opens_at == opened_at
    assert abs((survey.closes_at - earlier).total_seconds()) < 1
    edits = await _edits(db, survey)
    assert [sorted(e.changes) for e in edits] == [["closes_at", "title"], ["closes_at"]]
    assert {e.changed_by_name for e in edits} == {"Hoàng Thị Sửa"}
    # The page offers the same, and shows what stays.
    form = await client.get(f"/can-bo/khao-sat/{survey.id}/sua", headers=editor.headers)
    assert form.status_code == 200 and 'name="audience_ward_code"' not in form.text
    assert 'name="opens_on"' not in form.text and "Người dân từ 18 tuổi" in form.text


async def test_a_closed_survey_is_not_edited(
    db: AsyncSession, client: httpx.AsyncClient, app: FastAPI
) -> None:
    survey = await make_survey(db)
    await service.close_survey(db, survey=survey)
    editor = await _editor(db)
    r = await client.patch(
        f"/api/v1/participation/surveys/{survey.id}", headers=editor.headers, json={"title": "Mới"}
    )
    assert r.status_code == 409 and "kết thúc" in r.json()["detail"]
    page = await client.post(f"/can-bo/khao-sat/{survey.id}/sua", headers=editor.headers,
                             data={"csrf_token": form_token(app), "title": "Mới"})  # fmt: skip
    assert page.status_code == 409
    form = await client.get(f"/can-bo/khao-sat/{survey.id}/sua", headers=editor.headers)
    assert form.status_code == 303
    await db.refresh(survey)
    assert survey.title != "Mới" and await _edits(db, survey) == []


async def test_only_survey_staff_of_its_unit_edit_a_survey(
    db: AsyncSession, client: httpx.AsyncClient, app: FastAPI
) -> None:
    survey = await make_survey(db, opened=False)  # Sở Nội vụ
    other = await _editor(db, "HN-SYT")
    plain = await citizen(db, "Lê Văn Dân")
    await sign_in(db, plain, amr=("pwd",))
    url = f"/api/v1/participation/surveys/{survey.id}"
    assert (await client.patch(url, headers=other.headers, json={"title": "X"})).status_code == 404
    assert (await client.patch(url, headers=plain.headers, json={"title": "X"})).status_code == 403
    assert (await client.patch(url, json={"title": "X"})).status_code == 401
    refused = await client.post(f"/can-bo/khao-sat/{survey.id}/sua", headers=other.headers,
                                data={"csrf_token": form_token(app), "title": "X"})  # fmt: skip
    assert refused.status_code == 404
    city = await citizen(db, "Đinh Thị Thành Phố")
    await grant(db, city, "city_admin", "HN")
    await sign_in(db, city)
    assert (await client.patch(url, headers=city.headers, json={"title": "Y"})).status_code == 200
    await db.refresh(survey)
    assert survey.title == "Y"


async def _told(db: AsyncSession, people: list[Person]) -> dict[str, int]:
    counts = dict(
        (
            await db.execute(
                select(Message.account_id, func.count())
                .where(
                    Message.template == "participation.survey_opened",
                    Message.account_id.in_([p.account_id for p in people]),
                )
                .group_by(Message.account_id)
            )
        ).all()
    )
    return {p.full_name: counts.get(p.account_id, 0) for p in people}


async def test_when_a_survey_opens_its_audience_is_told_in_the_app_a_window_at_a_time(
    db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    resident = await citizen(db, "Cư Dân Ba Đình", BA_DINH, level=2)
    staying = await citizen(db, "Tạm Trú Ba Đình", HOAN_KIEM, temporary_ward_code=BA_DINH, level=2)
    elsewhere = await citizen(db, "Người Hoàn Kiếm", HOAN_KIEM, level=2)
    level1 = await citizen(db, "Tài Khoản Mức Một", BA_DINH, level=1)
    young = await citizen(db, "Cư Dân Trẻ", BA_DINH, level=2)
    no_account = await citizen(db, "Không Tài Khoản", BA_DINH, account=False)
    late = await citizen(db, "Cư Dân Muộn", BA_DINH, level=2)
    await db.execute(
        update(Citizen)
        .where(Citizen.personal_id == young.personal_id)
        .values(birth_date=today_vn().replace(year=today_vn().year - 17))
    )
    people = [resident, staying, elsewhere, level1, young, late]
    survey = await make_survey(
        db, opened=False, audience_ward_code=BA_DINH, audience_level2=True, audience_min_age=18
    )
    # Not told while a draft, nor while opened for a later day.
    survey.opens_at = now() + dt.timedelta(days=1)
    await service.open_survey(db, survey=survey)
    # Tell from the first of these accounts on (older ones belong to other tests' runs).
    survey.notice_cursor = min(p.account_id or 0 for p in people) - 1
    await db.commit()
    step = functools.partial(service.tell_audience, window=2)
    assert await until_done(session_factory, step) == 0
    assert set((await _told(db, people)).values()) == {0}

    survey.opens_at = now() - dt.timedelta(minutes=1)
    await db.commit()
    steps = await until_done(session_factory, step)
    assert steps >= 3  # six accounts, two a window: several transactions
    assert await _told(db, people) == {
        "Cư Dân Ba Đình": 1, "Tạm Trú Ba Đình": 1, "Người Hoàn Kiếm": 0,
        "Tài Khoản Mức Một": 0, "Cư Dân Trẻ": 0, "Cư Dân Muộn": 1,
    }  # fmt: skip
    assert no_account.account_id is None
    message = await db.scalar(select(Message).where(Message.account_id == resident.account_id))
    assert message is not None and message.channel == "in_app" and message.read_at is None
    assert survey.title in message.body and f"/khao-sat/{survey.id}" in message.body
    await db.refresh(survey)
    assert survey.notices_done_at is not None
    # Done: running again tells nobody twice.
    assert await until_done(session_factory, step) == 0
    assert (await _told(db, people))["Cư Dân Ba Đình"] == 1


async def test_a_survey_closed_before_it_was_announced_is_not_announced(
    db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    resident = await citizen(db, "Cư Dân Lỡ", BA_DINH, level=2)
    survey = await make_survey(db)
    await service.close_survey(db, survey=survey)
    await db.commit()
    assert await until_done(session_factory, service.tell_audience) == 1
    assert await _told(db, [resident]) == {"Cư Dân Lỡ": 0}
    await db.refresh(survey)
    assert survey.notices_done_at is not None


async def test_an_agency_is_told_in_the_app_when_a_voter_petition_is_assigned_to_it(
    db: AsyncSession, client: httpx.AsyncClient, app: FastAPI
) -> None:
    clerk = await citizen(db, "Lương Thị Giao")
    await grant(db, clerk, "council_clerk", "HN-DBQH-HDND")
    await sign_in(db, clerk)
    building = await citizen(db, "Kiều Văn Xây")
    await grant(db, building, "council_responder", "HN-SXD")
    health = await citizen(db, "Kiều Thị Y")
    await grant(db, health, "council_responder", "HN-SYT")
    surveyor = await citizen(db, "Kiều Văn Khảo")  # another role in the same department
    await grant(db, surveyor, "survey_editor", "HN-SXD")
    token = form_token(app)
    r = await client.post("/can-bo/kien-nghi/moi", headers=clerk.headers, data={
        "csrf_token": token, "term": "2021-2026", "meeting": "Tiếp xúc cử tri trước kỳ họp thứ 22",
        "meeting_date": (today_vn() - dt.timedelta(days=3)).isoformat(),
        "constituency": "Đơn vị bầu cử số 9", "field": "urban",
        "content": "Cử tri đề nghị sửa vỉa hè phố Huế."})  # fmt: skip
    assert r.status_code == 303
    path = r.headers["location"]
    pid = int(path.rsplit("/", 1)[1])
    deadline = today_vn() + dt.timedelta(days=30)

    async def inbox(person: Person) -> list[str]:
        return list(
            await db.scalars(
                select(Message.body).where(
                    Message.account_id == person.account_id,
                    Message.template == "participation.petition_assigned",
                )
            )
        )

    r = await client.post(f"{path}/giao", headers=clerk.headers, data={
        "csrf_token": token, "agency_code": "HN-SXD", "deadline": deadline.isoformat()})  # fmt: skip
    assert r.status_code == 303
    [told] = await inbox(building)
    assert f"KN-{pid}" in told and f"{deadline:%d/%m/%Y}" in told
    assert await inbox(health) == [] and await inbox(surveyor) == [] and await inbox(clerk) == []
    # Reassigned: the new agency is told, with its deadline.
    new_deadline = deadline + dt.timedelta(days=10)
    r = await client.post(f"{path}/giao", headers=clerk.headers, data={
        "csrf_token": token, "agency_code": "HN-SYT", "deadline": new_deadline.isoformat()})  # fmt: skip
    assert r.status_code == 303
    [told] = await inbox(health)
    assert f"{new_deadline:%d/%m/%Y}" in told and len(await inbox(building)) == 1
    # A refused assignment tells nobody.
    bad = await client.post(f"{path}/giao", headers=clerk.headers, data={
        "csrf_token": token, "agency_code": "HN-SXD", "deadline": "2000-01-01"})  # fmt: skip
    assert bad.status_code == 422 and len(await inbox(building)) == 1
