"""`thudo jobs run`: the periodic-task process."""

from __future__ import annotations

import asyncio
import contextlib

import typer

from thudo.core.settings import get_settings

app = typer.Typer(help="Background jobs", no_args_is_help=True)


@app.command("run")
def run() -> None:
    """Run the periodic tasks (audit sealing, …) until interrupted."""
    from thudo.core.logging import configure_logging
    from thudo.jobs.runner import run_forever

    settings = get_settings()
    configure_logging(settings.log_level, settings.json_logs)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_forever(settings.database_url))
