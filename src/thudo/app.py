"""The FastAPI application factory."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from thudo.core.db import (
    create_engine,
    create_hot_pool,
    session_factory,
    warn_if_over_server_limit,
)
from thudo.core.errors import install_error_handlers
from thudo.core.health import router as health_router
from thudo.core.logging import configure_logging
from thudo.core.middleware import RequestContextMiddleware
from thudo.core.settings import Settings, get_settings
from thudo.jobs import runner as jobs
from thudo.web.templating import STATIC_DIR


def create_app(settings: Settings | None = None, *, access_log: bool = True) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.json_logs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = getattr(app.state, "engine", None) is None
        if own_engine:
            budget = settings.connection_budget()
            app.state.engine = create_engine(
                settings.database_url,
                pool_size=budget.orm_pool,
                max_overflow=budget.orm_overflow,
                pool_timeout=settings.db_pool_timeout,
                application_name="thudo web",
                echo=settings.db_echo,
            )
            app.state.session_factory = session_factory(app.state.engine)
            if app.state.engine.dialect.name == "postgresql":
                app.state.hot_pool = await create_hot_pool(
                    settings.database_url,
                    size=budget.hot_pool,
                    acquire_timeout=settings.db_pool_timeout,
                    application_name="thudo web",
                )
                await warn_if_over_server_limit(app.state.hot_pool, settings)
        # What is alive now lives as long as the process: keep it out of every collection.
        gc.collect()
        gc.freeze()
        async with contextlib.AsyncExitStack() as stack:
            if settings.jobs_in_web:
                await stack.enter_async_context(jobs.running(app.state.session_factory))
            yield
        if own_engine:
            if app.state.hot_pool is not None:
                await app.state.hot_pool.close()
            await app.state.engine.dispose()

    app = FastAPI(
        title="Thủ Đô Số API",
        version="1.0",
        summary="Population registry, e-ID and public services for Project 06 (Hà Nội)",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = None
    # asyncpg pool for the hottest PostgreSQL reads; None on SQLite and in tests, whose
    # sessions share one rolled-back transaction.
    app.state.hot_pool = None
    from thudo.web.pages import html_error_page

    install_error_handlers(app, html_page=html_error_page)
    from thudo.core.errors import register_error_renderer
    from thudo.health.fhir import outcome_for_error

    register_error_renderer(app, "/fhir/", outcome_for_error)
    from thudo.identity.page_auth import install_sign_in_redirect

    install_sign_in_redirect(app)
    from thudo.core.fastpath import FastRoutes
    from thudo.health.api import FAST_ROUTES as health_fast_routes
    from thudo.parking.api import FAST_ROUTES as parking_fast_routes
    from thudo.payments.api import FAST_ROUTES as payments_fast_routes
    from thudo.registry.api import FAST_ROUTES as registry_fast_routes
    from thudo.web.security import SecurityMiddleware

    # Innermost of our layers: request ids, metrics, headers and CSRF apply to its answers.
    fast_routes = [
        *health_fast_routes,
        *payments_fast_routes,
        *parking_fast_routes,
        *registry_fast_routes,
    ]
    app.add_middleware(FastRoutes, routes=fast_routes)
    app.add_middleware(SecurityMiddleware, settings=settings, docs_path=app.docs_url)
    app.add_middleware(RequestContextMiddleware, access_log_enabled=access_log)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    from thudo.web.pages import router as web_pages

    app.include_router(health_router)
    app.include_router(web_pages)
    for router in _module_routers():
        app.include_router(router)
    return app


def _module_routers() -> list[APIRouter]:
    """Every module's API and page routers; a module joins the app by being listed here."""
    from thudo.documents.pages import router as documents_pages
    from thudo.dossiers.api import router as dossiers_api
    from thudo.dossiers.pages import router as dossiers_pages
    from thudo.feedback.api import router as feedback_api
    from thudo.feedback.open311 import router as open311_api
    from thudo.feedback.pages import router as feedback_pages
    from thudo.geo.api import router as geo_api
    from thudo.health.api import router as health_api
    from thudo.health.fhir_api import router as fhir_api
    from thudo.health.pages import router as health_pages
    from thudo.identity.account_pages import router as account_pages
    from thudo.identity.api import router as identity_api
    from thudo.identity.oidc_api import router as oidc_api
    from thudo.identity.oidc_pages import router as oidc_pages
    from thudo.identity.staff_pages import router as identity_staff_pages
    from thudo.indicators.opendata_api import router as ckan_api
    from thudo.indicators.pages import router as indicators_pages
    from thudo.indicators.public_pages import router as indicators_public
    from thudo.notify.pages import router as notify_pages
    from thudo.parking.api import router as parking_api
    from thudo.parking.pages import router as parking_pages
    from thudo.participation.api import router as participation_api
    from thudo.participation.council_pages import router as council_pages
    from thudo.participation.pages import router as participation_pages
    from thudo.payments.api import router as payments_api
    from thudo.payments.pages import router as payments_pages
    from thudo.procedures.api import router as procedures_api
    from thudo.procedures.pages import router as procedures_pages
    from thudo.registry.api import router as registry_api

    # Partner systems' and the public's hot paths first: every request walks the route list
    # in order until it matches (≈ 0.1 ms for a route near the end; measured: a third of a
    # payment webhook's CPU, and 0.3 ms of a report list read's after ≈ 230 route checks,
    # were spent matching the routes before them; about a tenth of an online dossier
    # submission's). Their prefixes (/open311, /api/v1/feedback, /api/v1/health, /fhir/R4,
    # /api/v1/payments, /api/v1/parking, /api/v1/dossiers) conflict with no other router's
    # paths.
    return [
        open311_api, feedback_api, health_api, fhir_api, payments_api, parking_api, dossiers_api,
        geo_api, registry_api, identity_api, identity_staff_pages, account_pages, notify_pages,
        payments_pages, parking_pages,
        oidc_api, oidc_pages,
        procedures_api, procedures_pages, documents_pages, dossiers_pages,
        health_pages,
        indicators_pages, indicators_public, ckan_api,
        participation_api, participation_pages, council_pages,
        feedback_pages,
    ]  # fmt: skip
