"""Surveys for tests: built through the service as a survey editor would."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import now
from thudo.identity.deps import Actor
from thudo.participation import service
from thudo.participation.models import Survey

# A survey editor of the Department of Home Affairs (a city department).
EDITOR = Actor(
    kind="staff", id="9", name="Phan Thị Khảo", scopes=frozenset({"survey:manage"}),
    grants=frozenset({("survey:manage", "HN-SNV")}), unit_code="HN-SNV",
)  # fmt: skip


async def make_survey(
    db: AsyncSession,
    *,
    title: str = "Đánh giá chất lượng dịch vụ công trực tuyến",
    unit_code: str = "HN-SNV",
    opened: bool = True,
    actor: Actor = EDITOR,
    **audience: object,
) -> Survey:
    survey = await service.create_survey(
        db,
        actor=actor,
        data=service.SurveyDraft(
            title=title, description="", unit_code=unit_code,
            opens_at=now() - dt.timedelta(hours=1), closes_at=now() + dt.timedelta(days=7),
            **audience,  # type: ignore[arg-type]
        ),
    )  # fmt: skip
    for q in (
        service.QuestionDraft(SINGLE := "single", "Bạn đã nộp hồ sơ trực tuyến lần nào chưa?",
                              options=["Đã nộp", "Chưa nộp"]),
        service.QuestionDraft("multiple", "Bạn gặp khó khăn gì?", required=False,
                              options=["Đăng nhập", "Tải giấy tờ", "Thanh toán"]),
        service.QuestionDraft("scale", "Mức độ hài lòng của bạn", scale_min=1, scale_max=5,
                              options=["Rất không hài lòng", "Rất hài lòng"]),
        service.QuestionDraft("text", "Góp ý thêm", required=False),
    ):  # fmt: skip
        assert SINGLE
        await service.add_question(db, survey=survey, data=q)
    if opened:
        await service.open_survey(db, survey=survey)
    await db.flush()
    return survey


async def question_ids(db: AsyncSession, survey: Survey) -> list[str]:
    return [str(q.id) for q in await service.questions(db, survey.id)]
