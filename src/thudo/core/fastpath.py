"""Lean answers for a few exact hot routes, ahead of FastAPI's routing and dependency solving.

A partner system's registry lookup or insurance check-in spent more of its worker CPU in
the framework than in its own work (py-spy, 2026-12-06: route matching through every
included router before it, twice for its own; dependency solving; the response model)
than in its own statement. A `FastRoute` answers one such route from inside the
middleware stack — after the request id, metrics, security headers and CSRF layers, which
all still apply — by calling the route's own dependency and endpoint functions in the
order FastAPI does. It handles only the plain, valid case: its `handle` returns None for
anything else (no hot pool, a path, header or body FastAPI would refuse), before any side
effect, and FastAPI then answers the request exactly as it always has (a body read is
replayed to it). Errors the handler raises go
to the app's own exception handlers, so they are rendered as by the normal route.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The handler's answer, or None when FastAPI's route must answer instead.
Handler = Callable[[Request, str], Awaitable[Response | None]]


@dataclass(frozen=True)
class FastRoute:
    """`method` on the path of `route` (at most one `{param}`), answered by
    `handle(request, param)`; `route` is the FastAPI route it stands in for (its path labels
    the metrics, as for that route). A handler that reads the body and then returns None
    leaves it to FastAPI whole: what it read is replayed."""

    route: BaseRoute
    handle: Handler
    method: str = "GET"

    @property
    def pattern(self) -> re.Pattern[str]:
        path: str = getattr(self.route, "path")  # noqa: B009
        found = re.fullmatch(r"([^{]*)\{(\w+)\}([^{]*)", path)
        if found is None:  # no parameter: the path itself, handle() gets ""
            return re.compile(re.escape(path) + "()")
        head, _, tail = found.groups()
        # Starlette's default `str` convertor: anything but a slash.
        return re.compile(re.escape(head) + r"([^/]+)" + re.escape(tail))


def route_named(routes: list[BaseRoute], path: str, method: str = "GET") -> BaseRoute:
    """The route of a router with that path and method (a FastRoute stands in for it)."""
    for route in routes:
        if getattr(route, "path", None) == path and method in (
            getattr(route, "methods", None) or ()
        ):
            return route
    raise LookupError(f"no {method} {path} route")


class FastRoutes:
    """Pure-ASGI middleware: answers the registered exact routes, passes everything else on."""

    def __init__(self, app: ASGIApp, *, routes: list[FastRoute]) -> None:
        self.app = app
        self.routes = [(r.method, r.pattern, r) for r in routes]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            method, path = scope["method"], scope["path"]
            for want, pattern, fast in self.routes:
                if method != want:
                    continue
                match = pattern.fullmatch(path)
                if match is None:
                    continue
                recorded = _Recorded(receive)
                request = Request(scope, recorded)
                try:
                    response = await fast.handle(request, match.group(1))
                except Exception as exc:
                    handler = _handler_for(request, exc)
                    if handler is None:
                        raise  # to the server-error layer, as from any route
                    answer = handler(request, exc)
                    response = await answer if inspect.isawaitable(answer) else answer
                if response is not None:
                    scope["route"] = fast.route
                    await response(scope, receive, send)
                    return
                receive = recorded.replay()
                break
        await self.app(scope, receive, send)


class _Recorded:
    """A receive channel that remembers what was read, to hand it on unread."""

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.messages: list[Message] = []

    async def __call__(self) -> Message:
        message = await self.receive()
        self.messages.append(message)
        return message

    def replay(self) -> Receive:
        pending = list(self.messages)
        if not pending:
            return self.receive

        async def receive() -> Message:
            if pending:
                return pending.pop(0)
            return await self.receive()

        return receive


def _handler_for(request: Request, exc: Exception) -> Callable[[Request, Exception], Any] | None:
    """The app's handler for this error, as Starlette's exception layer would choose it;
    None for the catch-all (`Exception`), which the outermost server-error layer runs."""
    handlers = getattr(request.app, "exception_handlers", {})
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            found: Callable[[Request, Exception], Any] = handlers[cls]
            return found
    return None
