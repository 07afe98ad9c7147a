"""`thudo staff …`: give citizens staff roles in units, list and revoke them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.errors import DomainError
from thudo.core.settings import get_settings
from thudo.identity import staff
from thudo.identity.permissions import ROLE_LABELS, ROLE_PERMISSIONS, Role

app = typer.Typer(help="Staff roles per organisation unit", no_args_is_help=True)
T = TypeVar("T")


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work against the configured database and commit it."""
    from thudo.core.db import create_engine, session_factory

    async def main() -> T:
        engine = create_engine(get_settings().database_url)
        try:
            async with session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        message = (exc.errors[0].message if exc.errors else exc.detail or exc.title).vi
        typer.echo(f"Lỗi: {message}", err=True)
        raise typer.Exit(1) from exc


@app.command("create")
def create(
    personal_id: str = typer.Option(..., "--personal-id", help="The citizen's 12-digit ID"),
    role: str = typer.Option(..., help=" | ".join(r.value for r in Role)),
    unit: str = typer.Option(
        ..., help="Unit code, e.g. HN-UBND-00004 (see /api/v1/identity/units)"
    ),
    phone: str | None = typer.Option(None, help="Phone for a new account (default: registry's)"),
) -> None:
    """Grant a role in a unit; creates the e-ID account (one-time password) if missing."""
    try:
        parsed = staff.parse_role(role)
    except DomainError as exc:
        typer.echo(f"Lỗi: {exc.errors[0].message.vi}", err=True)
        raise typer.Exit(1) from exc

    async def work(session: AsyncSession) -> staff.NewStaff:
        return await staff.create_staff(
            session=session, personal_id=personal_id.strip(), role=parsed, unit_code=unit,
            granted_by="cli", phone=phone,
        )  # fmt: skip

    made = _run(work)
    permissions = ", ".join(sorted(ROLE_PERMISSIONS[parsed]))
    typer.echo(
        f"Đã cấp vai trò {ROLE_LABELS[parsed].vi} ({parsed.value}) tại {unit}: {permissions}"
    )
    if made.initial_password:
        typer.echo(
            "Tài khoản định danh mới. Mật khẩu ban đầu (chỉ in một lần; hãy đổi sau khi đăng nhập):"
        )
        typer.echo(f"  {made.initial_password}")
    else:
        typer.echo("Dùng tài khoản định danh sẵn có của công dân.")
    typer.echo("Cán bộ phải bật xác thực hai lớp (TOTP) khi đăng nhập lần đầu.")


@app.command("list")
def list_(
    unit: str | None = typer.Option(None, help="Only this unit"),
    personal_id: str | None = typer.Option(None, "--personal-id", help="Only this person"),
) -> None:
    """Active role grants."""

    async def work(session: AsyncSession) -> list[staff.GrantRow]:
        return await staff.list_grants(
            session=session, unit_codes={unit} if unit else None, personal_id=personal_id
        )

    rows = _run(work)
    if not rows:
        typer.echo("Không có vai trò nào đang hiệu lực.")
    for r in rows:
        totp = "TOTP" if r.totp_enabled else "chưa bật TOTP"
        typer.echo(f"{r.id}\t{r.personal_id}\t{r.name}\t{r.role.value}\t{r.unit_code}\t{totp}")


@app.command("revoke")
def revoke(
    grant_id: int | None = typer.Option(None, "--grant-id", help="Grant id (see `staff list`)"),
    personal_id: str | None = typer.Option(None, "--personal-id"),
    role: str | None = typer.Option(None),
    unit: str | None = typer.Option(None),
) -> None:
    """Revoke one grant: by id, or by personal ID + role + unit."""
    if grant_id is None and not (personal_id and role and unit):
        typer.echo("Cần --grant-id, hoặc --personal-id, --role và --unit.", err=True)
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> int:
        target = grant_id
        if target is None:
            rows = await staff.list_grants(
                session=session, unit_codes={unit or ""}, personal_id=personal_id
            )
            matches = [r.id for r in rows if r.role.value == role]
            if not matches:
                raise staff.grant_not_found(0)
            target = matches[0]
        await staff.revoke_grant(session=session, grant_id=target)
        return target

    typer.echo(f"Đã thu hồi vai trò (mã {_run(work)}).")
