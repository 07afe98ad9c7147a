"""Participation API: open surveys, answering one (a signed-in citizen, once), published
results; the public lists of voter petitions and of resolutions being followed up."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep
from thudo.core.errors import DomainError, Message
from thudo.identity.deps import Actor, current_actor, require
from thudo.identity.models import Unit
from thudo.identity.permissions import Permission
from thudo.identity.staff import actor_from_session_cookie
from thudo.participation import council, service
from thudo.participation.models import Survey
from thudo.participation.schemas import (
    AudienceOut,
    BarOut,
    CommitmentOut,
    PetitionOut,
    PetitionPage,
    ProgressOut,
    QuestionOut,
    QuestionResultOut,
    ResolutionOut,
    ResponseIn,
    ResponseOut,
    ResultsOut,
    SurveyOut,
    SurveySummary,
    SurveyUpdate,
)

router = APIRouter(prefix="/api/v1/participation", tags=["participation"])
AnyActor = Annotated[Actor, Depends(current_actor)]
Editor = Annotated[Actor, Depends(require(Permission.SURVEY_MANAGE))]


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
        try:
            who = await service.respondent(session, actor.personal_id)
        except DomainError:  # not a living resident: the public list
            return [await survey_summary(session, s) for s in await service.open_surveys(session)]
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


@router.patch(
    "/surveys/{survey_id}",
    response_model=SurveyOut,
    summary="Edit a survey of one's unit (survey staff): everything while a draft; once "
    "opened its title, description and closing time; not once closed",
    responses={409: {"description": "Closed, or a setting that is fixed once opened"}},
)
async def update_survey(
    survey_id: int, data: SurveyUpdate, session: SessionDep, actor: Editor
) -> Any:
    survey = await service.managed(session, actor, survey_id)
    await service.update_survey(session, actor=actor, survey=survey, changes=data.changes())
    return await survey_out(session, survey)


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


@router.get(
    "/petitions",
    response_model=PetitionPage,
    dependencies=[PUBLIC],
    summary="Published voter petitions of a term with their answers (diacritics-insensitive q)",
)
async def list_petitions(
    session: SessionDep,
    term: Annotated[str, Query(pattern=r"^\d{4}-\d{4}$")] = council.CURRENT_TERM,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Any:
    rows, total = await council.public_page(session, term=term, q=q, page=page)
    units = await council.unit_names(session, {p.agency_unit_id for p in rows})
    return PetitionPage(
        items=[
            PetitionOut(
                id=p.id,
                term=p.term,
                meeting=p.meeting,
                meeting_date=p.meeting_date,
                constituency=p.constituency,
                field=p.field,
                field_vi=council.FIELDS[p.field].vi,
                field_en=council.FIELDS[p.field].en,
                content=p.content,
                agency_code=units[p.agency_unit_id].code if p.agency_unit_id in units else None,
                agency_name=units[p.agency_unit_id].name if p.agency_unit_id in units else None,
                deadline=p.deadline,
                answer=p.answer,
                answered_at=p.answered_at,
                published_at=p.published_at,
            )
            for p in rows
        ],
        total=total,
        page=page,
        page_size=council.PAGE_SIZE,
    )


@router.get(
    "/resolutions",
    response_model=list[ResolutionOut],
    dependencies=[PUBLIC],
    summary="Resolutions and conclusions of a term, their commitments, progress and status",
)
async def list_resolutions(
    session: SessionDep,
    term: Annotated[str, Query(pattern=r"^\d{4}-\d{4}$")] = council.CURRENT_TERM,
) -> Any:
    items = await council.resolutions_of_term(session, term)
    units = await council.unit_names(session, {c.agency_unit_id for _r, cs in items for c in cs})
    progress = await council.progress_of(session, [c.id for _r, cs in items for c in cs])
    return [
        ResolutionOut(
            id=r.id,
            term=r.term,
            kind=r.kind,
            number=r.number,
            title=r.title,
            session_name=r.session_name,
            adopted_on=r.adopted_on,
            commitments=[
                CommitmentOut(
                    id=c.id,
                    content=c.content,
                    agency_code=units[c.agency_unit_id].code,
                    agency_name=units[c.agency_unit_id].name,
                    deadline=c.deadline,
                    status=council.commitment_status(c),
                    percent=c.percent,
                    progress=[
                        ProgressOut(
                            reported_on=p.reported_on,
                            text=p.text,
                            status=p.status,
                            percent=p.percent,
                            reported_by_name=p.reported_by_name,
                        )
                        for p in progress.get(c.id, [])
                    ],
                )
                for c in cs
            ],
        )
        for r, cs in items
    ]
