"""The `thudo` command line: serve, migrate, seed and offline jobs."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from thudo.core.settings import SettingsError, get_settings

if TYPE_CHECKING:
    from thudo.identity.demo import DemoAccount
    from thudo.identity.staff_demo import DemoStaff

app = typer.Typer(help="Thủ Đô Số — Project 06 platform", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic)", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _register_subcommands() -> None:
    from thudo.audit.cli import app as audit_app
    from thudo.dossiers.cli import app as dossiers_app
    from thudo.feedback.cli import app as feedback_app
    from thudo.health.cli import app as health_app
    from thudo.identity.oidc_cli import clients_app, keys_app
    from thudo.identity.staff_cli import app as staff_app
    from thudo.indicators.cli import app as indicators_app
    from thudo.jobs.cli import app as jobs_app
    from thudo.parking.cli import app as parking_app
    from thudo.participation.cli import app as participation_app
    from thudo.payments.cli import app as payments_app
    from thudo.procedures.cli import app as procedures_app
    from thudo.registry.cli import app as registry_app

    app.add_typer(audit_app, name="audit")
    app.add_typer(dossiers_app, name="dossiers")
    app.add_typer(indicators_app, name="indicators")
    app.add_typer(feedback_app, name="feedback")
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(health_app, name="health")
    app.add_typer(parking_app, name="parking")
    app.add_typer(payments_app, name="payments")
    app.add_typer(participation_app, name="participation")
    app.add_typer(procedures_app, name="procedures")
    app.add_typer(registry_app, name="registry")
    app.add_typer(staff_app, name="staff")
    app.add_typer(clients_app, name="clients")
    app.add_typer(keys_app, name="keys")


_register_subcommands()


def _lower_priority_and_die_with_parent() -> None:
    """In the jobs child, before exec: nice 10, and SIGTERM when `thudo serve` dies
    (uvicorn re-raises the signal that stopped it, so no `finally` would run)."""
    import ctypes
    import signal

    os.nice(10)
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(int(os.environ.get("PORT", "8000")), help="TCP port (PORT)"),
    workers: int | None = typer.Option(
        None, help="Worker processes (default THUDO_WEB_WORKERS, 1)", show_default=False
    ),
    reload: bool = typer.Option(False, help="Reload on code changes (development)"),
    access_log: bool = typer.Option(True, help="Log every request"),
    jobs: bool = typer.Option(
        True, help="Start the periodic-task process (thudo jobs run) beside the web workers"
    ),
) -> None:
    """Serve the portal and the APIs."""
    import subprocess
    import sys

    import uvicorn

    if not access_log:
        os.environ["THUDO_ACCESS_LOG"] = "0"
    # Every worker sizes its database pools from its share of THUDO_DB_MAX_CONNECTIONS:
    # refuse here, once, a budget too small for this many workers.
    settings = get_settings()
    workers = workers or settings.web_workers
    try:
        settings.model_copy(update={"web_workers": workers}).connection_budget()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    os.environ["THUDO_WEB_WORKERS"] = str(workers)
    runner = None
    if jobs:
        # Its own process, at a lower priority: web workers never wait on it.
        os.environ["THUDO_JOBS_IN_WEB"] = "false"
        runner = subprocess.Popen(
            [sys.executable, "-m", "thudo.cli", "jobs", "run"],
            env={**os.environ, "THUDO_JOBS_IN_WEB": "true"},
            preexec_fn=_lower_priority_and_die_with_parent,
        )
    try:
        uvicorn.run(
            "thudo.asgi:app",
            host=host,
            port=port,
            workers=workers,
            reload=reload,
            access_log=False,
            proxy_headers=True,
            # Workers that take more than uvicorn's default 5 s to import and answer its
            # health check (a loaded machine) were killed and restarted in a loop.
            timeout_worker_healthcheck=60,
        )
    finally:
        if runner is not None:
            runner.terminate()
            try:
                runner.wait(timeout=10)
            except subprocess.TimeoutExpired:
                runner.kill()


@app.command("sandbox-bank")
def sandbox_bank(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(8100, help="TCP port"),
) -> None:
    """Serve the sandbox bank and card gateway (development and tests only; no real money)."""
    import uvicorn

    from thudo.payments.sandbox import create_sandbox_app

    settings = get_settings()
    if settings.env == "production":
        typer.echo("The sandbox bank never runs in production.", err=True)
        raise typer.Exit(1)
    uvicorn.run(create_sandbox_app(settings), host=host, port=port, access_log=False)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the database to the given revision (default: the latest)."""
    from thudo.core.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"Database at {revision}: {_safe_url(settings.database_url)}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, or 'base'")) -> None:
    """Migrate the database down to the given revision."""
    from thudo.core.migrate import downgrade

    settings = get_settings()
    downgrade(settings.database_url, revision)
    typer.echo(f"Database at {revision}: {_safe_url(settings.database_url)}")


async def _seed_judicial_register(database_url: str) -> int:
    """The synthetic judicial-records register, drawn from the registry's citizens."""
    from thudo.core.db import create_engine, session_factory
    from thudo.dossiers.register import seed_register

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            added = await seed_register(session=session)
            await session.commit()
            return added
    finally:
        await engine.dispose()


@app.command()
def seed(
    citizens: int = typer.Option(5000, min=1, help="How many citizens to generate"),
    seed_value: int = typer.Option(
        6, "--seed", help="Random seed: the same seed gives the same city"
    ),
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when citizens exist"),
    dirty_copy: Path | None = typer.Option(
        None, help="Also write a sectoral CSV with planted errors"
    ),
    dirty_rows: int = typer.Option(10_000, help="Rows in the dirty copy"),
    dirty_share: float = typer.Option(
        0.1, min=0.0, max=1.0, help="Share of rows with a planted error"
    ),
) -> None:
    """Load the geography and a deterministic synthetic city (Hà Nội) into an empty registry."""
    import asyncio

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )
    from sqlalchemy import create_engine as create_sync_engine
    from sqlalchemy import text

    from thudo.core.db import create_engine, session_factory, sync_url
    from thudo.feedback.catalog import load_catalog
    from thudo.geo.service import load_geography
    from thudo.identity.units import load_units
    from thudo.procedures.service import ImportSummary, load_seed
    from thudo.registry.bulk import SeedError, count_citizens, seed_city, write_dirty_copy

    settings = get_settings()
    console = Console()

    async def load_reference_data() -> tuple[dict[str, int], ImportSummary]:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                counts = await load_geography(session=session)
                counts["units"] = await load_units(
                    session=session, province_code=settings.city_province_code
                )
                procedures = await load_seed(session=session)
                counts["feedback_catalog"] = await load_catalog(session=session)
                await session.commit()
                return counts, procedures
        finally:
            await engine.dispose()

    geo, procedures = asyncio.run(load_reference_data())
    console.print(f"Địa giới hành chính: {geo}")
    console.print(f"Thủ tục hành chính: {procedures.created} mới, {procedures.unchanged} đã có.")
    engine = create_sync_engine(sync_url(settings.database_url))
    with engine.connect() as conn:
        existing = count_citizens(conn)
        sample = conn.execute(
            text(
                "SELECT personal_id FROM registry_citizen WHERE status = 'alive' ORDER BY personal_id LIMIT 1"
            )
        ).scalar()
    engine.dispose()
    if existing and if_empty:
        console.print(f"Cơ sở dữ liệu đã có {existing:,} công dân: không tạo thêm.")
    else:
        with Progress(
            TextColumn("Tạo dân cư mẫu"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("seed", total=citizens)
            try:
                summary = seed_city(
                    database_url=settings.database_url,
                    citizens=citizens,
                    seed=seed_value,
                    province_code=settings.city_province_code,
                    progress=lambda k: progress.advance(task, k),
                )
            except SeedError as exc:
                console.print(f"[red]{exc}[/]")
                raise typer.Exit(1) from exc
        sample = summary.sample_personal_id
        console.print(
            f"{summary.citizens:,} công dân trong {summary.households:,} hộ gia đình, "
            f"{summary.seconds:.1f} giây ({summary.citizens / summary.seconds:,.0f}/giây)."
        )
    convictions = asyncio.run(_seed_judicial_register(settings.database_url))
    console.print(f"Lý lịch tư pháp (dữ liệu mẫu): {convictions:,} bản án mới.")
    if dirty_copy is not None:
        counts = write_dirty_copy(
            database_url=settings.database_url,
            path=dirty_copy,
            rows=dirty_rows,
            share=dirty_share,
            seed=seed_value,
        )
        console.print(
            f"Tệp dữ liệu ngành có lỗi cài sẵn: {dirty_copy} ({counts}); đáp án: {dirty_copy}.truth.csv"
        )
    demo_accounts = asyncio.run(_demo_accounts()) if settings.env != "production" else []
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    console.print("\n[bold]Tài khoản dùng thử / demo accounts[/]")
    for demo in demo_accounts:
        console.print(
            f"  e-ID mức độ {demo.level} / level {demo.level}: {demo.full_name} — "
            f"số định danh {demo.personal_id} (hoặc {demo.phone}), mật khẩu: {demo.password}",
            soft_wrap=True,
        )
    if demo_accounts:
        console.print(f"    {settings.base_url}/dang-nhap", soft_wrap=True)
        console.print(f"    mã xác nhận / codes: {settings.base_url}/dev/outbox", soft_wrap=True)
    console.print(
        f"  API token (registry, THUDO_ADMIN_TOKEN; file {settings.data_dir}/secrets/admin_token):"
    )
    console.print(f"    {token}", soft_wrap=True)
    if sample:
        console.print(
            f"  curl -H 'Authorization: Bearer {token}' "
            f"{settings.base_url}/api/v1/registry/citizens/{sample}",
            soft_wrap=True,
        )
    if settings.env != "production":
        staff = asyncio.run(_demo_staff(settings.database_url))
        if staff is not None:
            console.print(
                f"  Cán bộ mẫu / demo staff: {staff.full_name}, số định danh {staff.personal_id}, "
                f"mật khẩu '{staff.password}' (bật xác thực hai lớp ở lần đăng nhập đầu); "
                f"vai trò tại {', '.join(staff.units)}: {settings.base_url}/can-bo",
                soft_wrap=True,
            )


async def _demo_staff(database_url: str) -> DemoStaff | None:
    from thudo.core.db import create_engine, session_factory
    from thudo.identity.staff_demo import ensure_demo_staff

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            staff = await ensure_demo_staff(session=session)
            await session.commit()
            return staff
    finally:
        await engine.dispose()


async def _demo_accounts() -> list[DemoAccount]:
    """Demo e-ID accounts (development and test only), created once."""
    from thudo.core.db import create_engine, session_factory
    from thudo.identity.demo import ensure_demo_accounts

    engine = create_engine(get_settings().database_url)
    try:
        async with session_factory(engine)() as session:
            accounts = await ensure_demo_accounts(session=session)
            await session.commit()
            return accounts
    finally:
        await engine.dispose()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    app()
