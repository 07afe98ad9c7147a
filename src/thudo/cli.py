"""The `thudo` command line: serve, migrate, seed and offline jobs."""

from __future__ import annotations

import os

import typer

from thudo.core.settings import get_settings

app = typer.Typer(help="Thủ Đô Số — Project 06 platform", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic)", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _register_subcommands() -> None:
    from thudo.audit.cli import app as audit_app
    from thudo.registry.cli import app as registry_app

    app.add_typer(audit_app, name="audit")
    app.add_typer(registry_app, name="registry")


_register_subcommands()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(int(os.environ.get("PORT", "8000")), help="TCP port (PORT)"),
    workers: int = typer.Option(1, help="Worker processes"),
    reload: bool = typer.Option(False, help="Reload on code changes (development)"),
    access_log: bool = typer.Option(True, help="Log every request"),
) -> None:
    """Serve the portal and the APIs."""
    import uvicorn

    if not access_log:
        os.environ["THUDO_ACCESS_LOG"] = "0"
    uvicorn.run(
        "thudo.asgi:app",
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        access_log=False,
        proxy_headers=True,
    )


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


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    app()
