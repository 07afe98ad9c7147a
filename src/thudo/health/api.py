"""Health JSON API for facility systems: insurance coverage at check-in, the facility list."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from thudo.core.deps import SessionDep
from thudo.core.fastpath import FastRoute, route_named
from thudo.health import service
from thudo.health.schemas import CoverageOut, FacilityOut
from thudo.identity.deps import Actor, require
from thudo.identity.permissions import Permission
from thudo.registry.api import PathId, Purpose, fast_read_request, purpose_of

router = APIRouter(prefix="/api/v1/health", tags=["health"])

check_in_permission = require(Permission.HEALTH_COVERAGE)
Checker = Annotated[Actor, Depends(check_in_permission)]


@router.get(
    "/coverage/{personal_id}",
    response_model=CoverageOut,
    summary="Health insurance eligibility and benefit level at check-in (audited)",
)
async def coverage(request: Request, personal_id: PathId, actor: Checker, purpose: Purpose) -> Any:
    state = request.app.state
    if purpose == "tra cứu":
        purpose = service.COVERAGE_PURPOSE
    if state.hot_pool is not None:
        # One autocommitted statement finds the caller's facility, reads the card and
        # writes the audit record: no session, no cache.
        answer = await service.check_coverage_hot(
            pool=state.hot_pool, personal_id=personal_id, actor=actor, purpose=purpose
        )
    else:
        async with state.session_factory() as session:
            facility_code = await service.facility_code_of(session=session, actor=actor)
            answer = await service.check_coverage(
                session=session, personal_id=personal_id, actor=actor,
                facility_code=facility_code, purpose=purpose,
            )  # fmt: skip
            await session.commit()
    return Response(orjson.dumps(answer.as_dict()), media_type="application/json")


async def fast_coverage(request: Request, raw_id: str) -> Response | None:
    """The check-in on the PostgreSQL hot path without the framework's routing and
    dependency solving (core/fastpath.py): the same dependencies and endpoint, called in
    FastAPI's order. None (FastAPI answers) without a hot pool or for a path or purpose
    it would refuse."""
    given = fast_read_request(request, raw_id)
    if given is None:
        return None
    personal_id, *purpose_values = given
    actor = await check_in_permission(request)
    purpose = await purpose_of(*purpose_values)
    answer: Response = await coverage(request, personal_id, actor, purpose)
    return answer


FAST_ROUTES = [
    FastRoute(
        route=route_named(router.routes, "/api/v1/health/coverage/{personal_id}"),
        handle=fast_coverage,
    )
]


@router.get("/facilities", response_model=list[FacilityOut], summary="The city's health facilities")
async def facilities(session: SessionDep, actor: Checker) -> Any:
    return [FacilityOut.model_validate(f, from_attributes=True) for f in await service.list_facilities(session=session)]  # fmt: skip
