"""`thudo clients …` (register, list, disable API clients) and `thudo keys rotate`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.errors import DomainError
from thudo.core.settings import get_settings

clients_app = typer.Typer(help="API clients of the e-ID provider (OAuth 2.0 / OIDC)", no_args_is_help=True)  # fmt: skip
keys_app = typer.Typer(help="Token-signing keys of the e-ID provider", no_args_is_help=True)
T = TypeVar("T")


def _run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
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
        detail = exc.detail or exc.title
        typer.echo(f"Lỗi / error: {detail.vi} / {detail.en}", err=True)
        raise typer.Exit(2) from exc


@clients_app.command("create")
def create(
    name: str = typer.Option(..., help="Application name shown to citizens"),
    kind: str = typer.Option(..., help="web | public | service"),
    redirect_uri: list[str] = typer.Option([], "--redirect-uri", help="Repeatable"),
    post_logout_redirect_uri: list[str] = typer.Option(
        [], "--post-logout-redirect-uri", help="Repeatable"
    ),
    scopes: str = typer.Option(
        "", help='Space-separated, e.g. "openid profile personal_id" or "registry:read"'
    ),
    unit: str | None = typer.Option(None, help="Unit code a partner system acts for"),
    first_party: bool = typer.Option(
        False, "--first-party", help="The city's own application: no consent for openid/profile"
    ),
    client_id: str | None = typer.Option(None, help="Choose the client id (default: generated)"),
) -> None:
    """Register a client and print its credentials (the secret is shown only now)."""
    from thudo.identity.clients import create_client

    async def work(session: AsyncSession) -> tuple[str, str | None]:
        client, secret = await create_client(
            session=session, name=name, kind=kind, redirect_uris=redirect_uri,
            post_logout_redirect_uris=post_logout_redirect_uri, scopes=scopes.split(),
            unit_code=unit, first_party=first_party, client_id=client_id,
            allow_http=get_settings().env != "production",
        )  # fmt: skip
        return client.client_id, secret

    new_id, secret = _run(work)
    typer.echo(f"client_id: {new_id}")
    if secret:
        typer.echo(f"client_secret: {secret}")
        typer.echo("Lưu mã bí mật ngay: nó không được hiển thị lại. / Store the secret now: it is not shown again.")  # fmt: skip
    typer.echo(f"issuer: {get_settings().base_url.rstrip('/')}")


@clients_app.command("list")
def list_clients() -> None:
    """Every registered client."""
    from thudo.identity.clients import get_all

    rows = _run(lambda session: get_all(session=session))
    # Tab-separated, one client a line: readable, and grep/cut-friendly.
    typer.echo("client_id\tkind\tstatus\tscopes\tunit\tname")
    for client, unit_code in rows:
        kind = client.kind + (" (first-party)" if client.first_party else "")
        status = "disabled" if client.disabled_at else "active"
        scopes = " ".join(client.scopes)
        typer.echo(
            f"{client.client_id}\t{kind}\t{status}\t{scopes}\t{unit_code or '-'}\t{client.name}"
        )


@clients_app.command("disable")
def disable(client_id: str = typer.Argument(...)) -> None:
    """Disable a client: it gets no new tokens and its tokens stop working."""
    from thudo.identity.clients import disable_client

    _run(lambda session: disable_client(session=session, client_id=client_id))
    typer.echo(f"disabled: {client_id}")


@keys_app.command("rotate")
def rotate() -> None:
    """Make a new signing key; the old ones stay published (JWKS) for two days."""
    from thudo.identity.keys import rotate as rotate_keys

    key, retired = _run(rotate_keys)
    typer.echo(f"signing key: {key.kid}" + (f"; retired: {', '.join(retired)}" if retired else ""))
    typer.echo(
        "Các máy chủ đang chạy chuyển sang khóa mới trong vòng một phút. / Running servers switch within a minute."
    )
