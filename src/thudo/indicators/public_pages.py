"""Public pages: the monthly publications of the indicators (`/cong-khai/chi-so`), each
version downloadable as the signed PDF, the exact JSON its hash covers, and CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import not_found
from thudo.core.i18n import request_language
from thudo.documents.service import get_by_code
from thudo.documents.store import default_store
from thudo.indicators import opendata, service, snapshots
from thudo.indicators.models import Snapshot
from thudo.web.templating import render, translator

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[PUBLIC])


def _label(month: str) -> str:
    return f"{month[5:7]}/{month[:4]}"


@router.get("/cong-khai/chi-so", response_class=HTMLResponse)
async def publications(request: Request, session: SessionDep) -> HTMLResponse:
    _ = translator(request)
    items = await snapshots.list_snapshots(session)
    rows = [
        [
            _label(s.month), str(s.version), snapshots.published_at_text(s), s.reason or "—",
            _links(request, s),
        ]
        for s in items
    ]  # fmt: skip
    return render(request, "indicators/publications.html", {"rows": rows})


def _links(request: Request, s: Snapshot) -> Any:
    from markupsafe import Markup

    _ = translator(request)
    base = f"/cong-khai/chi-so/{s.month}"
    return Markup(
        '<a href="{0}?phien-ban={1}">{2}<span class="visually-hidden"> {3}</span></a> · '
        '<a href="{0}/v{1}.pdf">PDF</a> · <a href="{0}/v{1}.json">JSON</a> · '
        '<a href="{0}/v{1}.csv">CSV</a>'
    ).format(
        base,
        s.version,
        _("Xem"),
        _("tháng {month}, phiên bản {version}", month=_label(s.month), version=s.version),
    )


@router.get("/cong-khai/chi-so/{month}", response_class=HTMLResponse)
async def publication(
    request: Request,
    month: str,
    session: SessionDep,
    version: Annotated[int | None, Query(alias="phien-ban", ge=1, le=1000)] = None,
) -> HTMLResponse:
    lang = request_language(request, negotiate=False)
    s = await snapshots.get_snapshot(session, service.parse_month(month), version)
    versions = [v for v in await snapshots.list_snapshots(session) if v.month == s.month]
    rows = []
    for ind in s.content["indicators"]:
        d = snapshots.definition_of(ind)
        rows.append([
            ind["name_en"] if lang == "en" else ind["name_vi"],
            service.format_value(d, ind["city"]["value"], lang),
            "—" if d.target is None else service.format_value(d, d.target, lang),
        ])  # fmt: skip
    return render(
        request,
        "indicators/publication.html",
        {
            "s": s, "month_label": _label(s.month), "rows": rows,
            "published_at": snapshots.published_at_text(s),
            "others": [v for v in versions if v.version != s.version],
        },
    )  # fmt: skip


@router.get("/cong-khai/chi-so/{month}/v{version:int}.{fmt}")
async def download(
    month: str, version: int, fmt: str, session: SessionDep, settings: SettingsDep
) -> Response:
    s = await snapshots.get_snapshot(session, service.parse_month(month), version)
    name = f"chi-so-{s.month}-v{s.version}"
    if fmt == "json":
        return Response(
            snapshots.canonical(s.content), media_type="application/json",
            headers={"Content-Disposition": f'inline; filename="{name}.json"', "X-Content-SHA256": s.sha256},
        )  # fmt: skip
    if fmt == "csv":
        return Response(
            "\ufeff" + cells_csv(s), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )  # fmt: skip
    if fmt == "pdf":
        document = await get_by_code(session=session, code=s.document_code)
        return Response(
            default_store(settings.data_dir).get(document.file_key), media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )  # fmt: skip
    raise not_found("định dạng", "format", fmt)


CSV_HEADER = ["month", "version", "indicator_code", "indicator", "unit_code", "unit_name",
              "value", "numerator", "denominator", "suppressed"]  # fmt: skip


def cells_csv(s: Snapshot) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for ind in s.content["indicators"]:
        cells = [{"unit_code": "HN", "unit_name": "Thành phố Hà Nội", **ind["city"]}, *ind["units"]]
        for c in cells:
            writer.writerow([
                s.month, s.version, ind["code"], ind["name_vi"], c["unit_code"], c["unit_name"],
                c["value"], c["numerator"], c["denominator"], "yes" if c.get("suppressed") else "no",
            ])  # fmt: skip
    return out.getvalue()


# ---------------------------------------------------------------- open data


@router.get("/du-lieu-mo", response_class=HTMLResponse)
async def open_data(request: Request, session: SessionDep) -> HTMLResponse:
    lang = request_language(request, negotiate=False)
    items = [
        {
            "d": d,
            "title": d.title_en if lang == "en" else d.title_vi,
            "notes": d.notes_en if lang == "en" else d.notes_vi,
        }
        for d in await opendata.available(session)
    ]
    return render(request, "indicators/open_data.html", {"items": items})


@router.get("/du-lieu-mo/{name}.{fmt}")
async def open_data_download(name: str, fmt: str, session: SessionDep) -> Response:
    d = await opendata.find(session, name)
    if d is None or fmt not in ("csv", "json"):
        raise not_found("bộ dữ liệu", "dataset", f"{name}.{fmt}")
    table = await opendata.table(session, d)
    if fmt == "json":
        body = {
            "name": d.name, "title": d.title_vi, "title_en": d.title_en, "notes": d.notes_vi,
            "notes_en": d.notes_en, "publisher": opendata.PUBLISHER, "license": opendata.LICENSE_ID,
            "frequency": d.frequency, "built_at": table.built_at.isoformat(),
            "fields": [{"id": c.id, "type": c.type, "label": c.label_vi, "label_en": c.label_en} for c in d.columns],
            "records": table.records,
        }  # fmt: skip
        return Response(
            json.dumps(body, ensure_ascii=False), media_type="application/json",
            headers={"Content-Disposition": f'inline; filename="{d.name}.json"'},
        )  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.id for c in d.columns])
    for r in table.records:
        writer.writerow(["" if r[c.id] is None else r[c.id] for c in d.columns])
    return Response(
        "\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{d.name}.csv"'},
    )  # fmt: skip


@router.get("/du-lieu-mo/{name}", response_class=HTMLResponse)
async def open_data_set(request: Request, name: str, session: SessionDep) -> HTMLResponse:
    lang = request_language(request, negotiate=False)
    d = await opendata.find(session, name)
    if d is None:
        raise not_found("bộ dữ liệu", "dataset", name)
    table = await opendata.table(session, d)
    columns = [c.label_en if lang == "en" else c.label_vi for c in d.columns]
    preview = [
        ["" if r[c.id] is None else str(r[c.id]) for c in d.columns] for r in table.records[:20]
    ]
    return render(
        request,
        "indicators/open_data_set.html",
        {
            "d": d, "title": d.title_en if lang == "en" else d.title_vi,
            "notes": d.notes_en if lang == "en" else d.notes_vi,
            "columns": columns, "preview": preview, "total": len(table.records),
            "fields": [[c.id, c.type, c.label_en if lang == "en" else c.label_vi] for c in d.columns],
        },
    )  # fmt: skip
