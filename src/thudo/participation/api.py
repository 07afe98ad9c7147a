"""Participation API: open surveys, answering one (a signed-in citizen, once), published
results; the public lists of voter petitions and of resolutions being followed up."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep
from thudo.core.errors import DomainError, Message
from thudo.identity.deps import Actor, current_actor
from thudo.identity.models import Unit
from thudo.identity.staff import actor_from_session_cookie
from thudo.participation import service
from thudo.participation.models import Survey
from thudo.participation.schemas import (
    AudienceOut,
    BarOut,
    QuestionOut,
    QuestionResultOut,
    ResponseIn,
    ResponseOut,
    ResultsOut,
    SurveyOut,
    SurveySummary,
)

router = APIRouter(prefix="/api/v1/participation", tags=["participation"])
AnyActor = Annotated[Actor, Depends(current_actor)]


async def survey_summary(
    session: AsyncSession, survey: Survey, answered: bool | None = None
) -> SurveySummary:
    unit = await session.get(Unit, survey.unit_id)
    audience = await service.audience_text(session, survey)
    return SurveySummary(
        id=survey.id, title=survey.title, unit_name=unit.name if unit else "",
        state=service.state(survey), opens_at=survey.opens_at, closes_at=survey.closes_at,
        audience_vi=audience.vi, audience_en=audience.en, answered=answered,
    )  # fmt: skip


async def survey_out(session: AsyncSession, survey: Survey) -> SurveyOut:
    unit = await session.get(Unit, survey.unit_id)
    assert unit is not None
    audience = await service.audience_text(session, survey)
    return SurveyOut(
        id=survey.id,
        title=survey.title,
        description=survey.description,
        unit_code=unit.code,
        unit_name=unit.name,
        state=service.state(survey),
        opens_at=survey.opens_at,
        closes_at=survey.closes_at,
        audience=AudienceOut(
            ward_code=survey.audience_ward_code,
            min_age=survey.audience_min_age,
            max_age=survey.audience_max_age,
            level2_only=survey.audience_level2,
            description_vi=audience.vi,
            description_en=audience.en,
        ),
        results_public=service.results_public(survey),
        questions=[
            QuestionOut(
                id=q.id,
                kind=q.kind,
                text=q.text,
                required=q.required,
                options=q.options,
                scale_min=q.scale_min,
                scale_max=q.scale_max,
            )
            for q in await service.questions(session, survey.id)
        ],
    )


def results_out(r: service.Results) -> ResultsOut:
    return ResultsOut(
        survey_id=r.survey.id,
        title=r.survey.title,
        responses=r.responses,
        questions=[
            QuestionResultOut(
                question_id=q.question.id,
                kind=q.question.kind,
                text=q.question.text,
                answered=q.answered,
                bars=[BarOut(**vars(b)) for b in q.bars],
                mean=q.mean,
                text_answers=q.text_count,
            )
            for q in r.questions
        ],
    )


@router.get(
    "/surveys",
    response_model=list[SurveySummary],
    dependencies=[PUBLIC],
    summary="Open surveys (a signed-in citizen: those open to her, with whether she answered)",
)
async def list_open_surveys(request: Request, session: SessionDep) -> Any:
    actor = await actor_from_session_cookie(request)
    if actor is not None and actor.personal_id:
        who = await service.respondent(session, actor.personal_id)
        return [
            await survey_summary(session, s, answered)
            for s, answered in await service.open_for(session, who)
        ]
    return [await survey_summary(session, s) for s in await service.open_surveys(session)]


@router.get(
    "/surveys/{survey_id}",
    response_model=SurveyOut,
    dependencies=[PUBLIC],
    summary="A survey with its questions (no personal data)",
)
async def get_survey(survey_id: int, session: SessionDep) -> Any:
    return await survey_out(session, await service.published(session, survey_id))


@router.post(
    "/surveys/{survey_id}/responses",
    status_code=201,
    response_model=ResponseOut,
    summary="Answer a survey, once (a signed-in citizen); 409 for a second response",
    responses={409: {"description": "Already answered (the first response is kept), or closed"}},
)
async def respond(survey_id: int, data: ResponseIn, session: SessionDep, actor: AnyActor) -> Any:
    if not actor.personal_id:
        raise DomainError(
            code="citizen-required",
            status=403,
            title=Message("Không có quyền tham gia", "Not allowed to take part"),
            detail=Message(
                "Chỉ công dân đăng nhập bằng định danh điện tử trả lời khảo sát.",
                "Only citizens signed in with their e-ID answer surveys.",
            ),
        )
    response = await service.respond(
        session, survey_id=survey_id, personal_id=actor.personal_id, answers=data.answers
    )
    return ResponseOut(
        survey_id=survey_id,
        submitted_at=response.submitted_at,
        message_vi="Cảm ơn bạn đã tham gia khảo sát.",
        message_en="Thank you for taking part in the survey.",
    )


@router.get(
    "/surveys/{survey_id}/results",
    response_model=ResultsOut,
    dependencies=[PUBLIC],
    summary="A closed survey's results (counts only; free texts are not published)",
)
async def survey_results(survey_id: int, session: SessionDep) -> Any:
    survey = await service.published(session, survey_id)
    if not service.results_public(survey):
        raise service.survey_not_found(survey_id)
    return results_out(await service.results(session, survey, with_texts=False))


@router.get(
    "/results",
    response_model=list[SurveySummary],
    dependencies=[PUBLIC],
    summary="Closed surveys whose results are public",
)
async def list_results(session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Any:
    return [
        await survey_summary(session, s)
        for s in await service.public_results_list(session, limit=limit)
    ]
