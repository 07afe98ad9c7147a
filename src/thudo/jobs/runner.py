"""Periodic tasks, run in their own process by `thudo jobs run` — which `thudo serve`
starts beside the web workers — or inside the web process when `THUDO_JOBS_IN_WEB` is
true (a single-process deployment, an app mounted by another server).

Measured (bench/registry_get_bench.py): chaining 2,000 audit rows a second inside a web
worker stalls its event loop for tens of milliseconds each second, which every request in
flight on that worker waits out; in a separate, lower-priority process it costs the web
workers nothing but the CPU it uses.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger("thudo.jobs")

Factory = async_sessionmaker[AsyncSession]


async def until_done(
    factory: Factory, step: Callable[[AsyncSession], Awaitable[int]], *, batch: int | None = None
) -> int:
    """Run `step` (one batch of work; how many things it did) a transaction at a time
    until a batch does nothing — or, when `batch` gives the step's batch size, until a batch
    is not full: the step has caught up, and what arrived meanwhile waits for the next run
    instead of being chased a few rows at a time (measured: the audit sealer, chasing
    1,500 new rows a second, sealed 26 rows per transaction and cost a quarter of the
    machine's CPU per registry lookup). Returns the total. Short transactions: nothing
    waits long on the locks a batch takes, and what is done is committed as it goes."""
    total = 0
    while True:
        async with factory() as session:
            done = await step(session)
            await session.commit()
        total += done
        if done == 0 or (batch is not None and done < batch):
            return total


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    interval_s: float
    run: Callable[[Factory], Awaitable[int]]
    # Work that is not urgent waits a little after start: a process (re)starting is busy.
    first_after_s: float = 0.0


def periodic_tasks() -> list[PeriodicTask]:
    """Every periodic task of the platform; modules add theirs here."""
    from thudo.audit.tasks import seal_once
    from thudo.dossiers import tasks as dossier_tasks  # also registers its outbox handlers
    from thudo.feedback.tasks import flag_overdue_once
    from thudo.identity.tasks import purge_expired_once as purge_identity
    from thudo.indicators.tasks import compute_due as compute_indicators
    from thudo.indicators.tasks import publish_monthly
    from thudo.jobs.outbox import deliver_all_due
    from thudo.notify.tasks import deliver_due as deliver_messages
    from thudo.parking import tasks as parking_tasks
    from thudo.participation.tasks import publish_results_once, tell_audiences_once
    from thudo.payments.tasks import expire_once

    return [
        PeriodicTask("audit.seal", 1.0, seal_once),
        PeriodicTask("jobs.outbox", 1.0, deliver_all_due),
        PeriodicTask("notify.deliver", 5.0, deliver_messages),
        PeriodicTask("payments.expire", 60.0, expire_once),
        PeriodicTask("dossiers.settle_payments", 2.0, dossier_tasks.settle_payments_once),
        *indicator_tasks(compute_indicators, publish_monthly),
        PeriodicTask("parking.expire_holds", 30.0, parking_tasks.expire_holds_once),
        PeriodicTask("parking.settle_payments", 2.0, parking_tasks.settle_paid_once),
        PeriodicTask("participation.publish_results", 60.0, publish_results_once),
        PeriodicTask("participation.tell_audiences", 30.0, tell_audiences_once),
        PeriodicTask("feedback.overdue", 60.0, flag_overdue_once),
        PeriodicTask("identity.purge_expired", 600.0, purge_identity, first_after_s=60.0),
    ]


def indicator_tasks(
    compute: Callable[[Factory], Awaitable[int]], publish: Callable[[Factory], Awaitable[int]]
) -> list[PeriodicTask]:
    """The indicators' computation and monthly publication, unless THUDO_INDICATORS_JOBS is
    false (test servers sharing a SQLite file with a test run)."""
    from thudo.core.settings import get_settings

    if not get_settings().indicators_jobs:
        return []
    return [
        PeriodicTask("indicators.compute", 60.0, compute, first_after_s=30.0),
        PeriodicTask("indicators.publish", 3600.0, publish, first_after_s=90.0),
    ]


async def _every(task: PeriodicTask, factory: Factory) -> None:
    await asyncio.sleep(task.first_after_s)
    while True:
        try:
            done = await task.run(factory)
            if done:
                log.debug("periodic_task_done", task=task.name, items=done)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("periodic_task_failed", task=task.name)
        await asyncio.sleep(task.interval_s)


@contextlib.asynccontextmanager
async def running(factory: Factory):  # type: ignore[no-untyped-def]
    """Run every periodic task in the background of the current event loop."""
    tasks = [asyncio.create_task(_every(t, factory), name=t.name) for t in periodic_tasks()]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t


async def run_forever(database_url: str) -> None:
    from thudo.core.db import create_engine, session_factory
    from thudo.core.settings import JOBS_CONNECTIONS

    # Its share of THUDO_DB_MAX_CONNECTIONS (core.settings.connection_budget).
    half = JOBS_CONNECTIONS // 2
    engine = create_engine(
        database_url, pool_size=half, max_overflow=JOBS_CONNECTIONS - half,
        application_name="thudo jobs",
    )  # fmt: skip
    try:
        async with running(session_factory(engine)):
            await asyncio.Event().wait()
    finally:
        await engine.dispose()
