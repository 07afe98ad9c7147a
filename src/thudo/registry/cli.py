"""`thudo registry …`: offline jobs on the population registry."""

from __future__ import annotations

import asyncio
import csv
import getpass
from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from thudo.core.db import create_engine, gc_paused, session_factory
from thudo.core.settings import get_settings

app = typer.Typer(help="Population registry jobs", no_args_is_help=True)
CHUNK = 20_000
OUT_FIELDS = ["row", "personal_id", "status", "deceased", "differences", "errors"]


def _describe(answer: dict[str, object]) -> tuple[str, str]:
    diffs = answer.get("differences") or []
    errs = answer.get("errors") or []
    d = "; ".join(
        f"{x['field']}:{x['kind']}"
        + (f"({','.join(x['differs_in'])})" if x.get("differs_in") else "")
        for x in diffs  # type: ignore[attr-defined]
    )
    e = "; ".join(f"{x['field']}:{x['code']}" for x in errs)  # type: ignore[attr-defined]
    return d, e


@app.command("verify-file")
def verify_file(
    input_csv: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="personal_id, full_name, birth_date[, sex][, ward_code]",
    ),
    output_csv: Path = typer.Argument(..., dir_okay=False, help="Where the row-by-row answers go"),
    purpose: str = typer.Option("đối chiếu dữ liệu ngành", help="Recorded in the audit log"),
) -> None:
    """Verify a sectoral data file against the registry, as the API does, in constant memory."""
    from thudo.audit.service import Read, record_reads
    from thudo.identity.deps import Actor
    from thudo.registry.verify import verify_rows

    actor = Actor(kind="system", id=f"cli:{getpass.getuser()}", name="thudo registry verify-file")
    console = Console(stderr=True)
    total_lines = max(sum(1 for _ in input_csv.open(encoding="utf-8-sig")) - 1, 0)
    counts: Counter[str] = Counter()

    async def run() -> None:
        engine = create_engine(get_settings().database_url)
        factory = session_factory(engine)
        offset = 0
        try:
            with (
                input_csv.open(encoding="utf-8-sig", newline="") as fin,
                output_csv.open("w", encoding="utf-8", newline="") as fout,
                Progress(
                    TextColumn("Đối chiếu"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeRemainingColumn(),
                    console=console,
                ) as progress,
            ):
                task = progress.add_task("verify", total=total_lines)
                reader = csv.DictReader(fin)
                writer = csv.DictWriter(fout, fieldnames=OUT_FIELDS)
                writer.writeheader()
                chunk: list[dict[str, object]] = []

                async def flush() -> None:
                    nonlocal offset
                    rows = [{k: (v if v != "" else None) for k, v in r.items()} for r in chunk]
                    async with factory() as session:
                        with gc_paused():
                            answers, _ = await verify_rows(session=session, rows=rows)
                        await record_reads(
                            session=session, actor=actor, action="verify", purpose=purpose,
                            reads=[Read(str(a["personal_id"]), ["full_name", "birth_date", "sex", "permanent_ward_code", "status"])
                                   for a in answers if a["status"] not in ("not_found", "invalid")],
                        )  # fmt: skip
                        await session.commit()
                    for a in answers:
                        d, e = _describe(a)
                        counts[str(a["status"])] += 1
                        counts["deceased"] += bool(a.get("deceased"))
                        writer.writerow({
                            "row": int(a["row"]) + offset + 1, "personal_id": a.get("personal_id", ""),
                            "status": a["status"], "deceased": "yes" if a.get("deceased") else "",
                            "differences": d, "errors": e,
                        })  # fmt: skip
                    offset += len(chunk)
                    progress.advance(task, len(chunk))
                    chunk.clear()

                for record in reader:
                    chunk.append(dict(record))
                    if len(chunk) >= CHUNK:
                        await flush()
                if chunk:
                    await flush()
        finally:
            await engine.dispose()

    asyncio.run(run())
    console.print(f"[bold]{offset_total(counts):,}[/] dòng đã đối chiếu → {output_csv}")
    for status, n in sorted(counts.items()):
        console.print(f"  {status}: {n:,}")


def offset_total(counts: Counter[str]) -> int:
    return sum(n for k, n in counts.items() if k != "deceased")
