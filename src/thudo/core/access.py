"""Which routes anyone may call: public routes are declared, every other route is protected.

A route (or a whole router) is public when it carries the `PUBLIC` marker dependency:

    router = APIRouter(prefix="/api/v1/geo", dependencies=[PUBLIC])
    @router.get("/dang-nhap", dependencies=[PUBLIC])

tests/identity/test_access_matrix.py enumerates every route of the app and proves that each
route without the marker refuses an anonymous caller, so a route someone forgets to protect
fails the suite instead of leaking.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fastapi import Depends
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute, Mount


async def public_route() -> None:
    """Marker: this route answers anonymous callers on purpose."""


PUBLIC = Depends(public_route)

# Routes the framework adds itself (API documentation) and static files.
FRAMEWORK_PUBLIC_PATHS = frozenset({"/api/openapi.json", "/api/docs", "/docs/oauth2-redirect"})
PUBLIC_MOUNTS = frozenset({"/static"})


def app_routes(routes: Sequence[BaseRoute]) -> Iterator[RouteContext]:
    """Every route as the app serves it: included routers flattened, prefixes applied."""
    return iter_route_contexts(routes)


def is_public(route: RouteContext) -> bool:
    original = route.original_route
    if isinstance(original, Mount):
        return original.path in PUBLIC_MOUNTS
    if isinstance(original, APIRoute):
        return any(d.call is public_route for d in route.dependant.dependencies)
    return route.path in FRAMEWORK_PUBLIC_PATHS
