"""Leader dashboard (`/lanh-dao/chi-so`): the city at a glance, trends, rankings of wards,
drill-down to the records behind a figure, CSV and XLSX exports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from thudo.core.clock import to_vn
from thudo.core.deps import SessionDep, SettingsDep
from thudo.core.errors import not_found
from thudo.core.i18n import N_, request_language
from thudo.identity.deps import Actor
from thudo.identity.page_auth import staff_page
from thudo.identity.permissions import Permission, UnitKind
from thudo.identity.units import CITY_CODE
from thudo.indicators import service
from thudo.indicators.charts import bar_chart
from thudo.indicators.definitions import Definition
from thudo.web.templating import component, render, translator

router = APIRouter(tags=["pages"], include_in_schema=False)
Leader = Annotated[Actor, Depends(staff_page(Permission.REPORT_READ))]
Month = Annotated[str | None, Query(alias="thang", max_length=7)]
TREND_MONTHS = 12
UNIT_GROUPS = (
    ((UnitKind.WARD_COMMITTEE,), N_("Xếp hạng phường, xã")),
    ((UnitKind.DEPARTMENT, UnitKind.SERVICE_CENTER, UnitKind.CITY), N_("Sở, ngành và Trung tâm Phục vụ hành chính công")),
    ((UnitKind.SERVICE_CENTER_BRANCH,), N_("Chi nhánh Trung tâm Phục vụ hành chính công")),
)  # fmt: skip


def month_label(month: str) -> str:
    return f"{month[5:7]}/{month[:4]}"


def _status(request: Request, d: Definition, figure: service.Figure | None) -> Markup:
    meets = figure.meets(d) if figure else None
    if meets is None:
        key = (
            (N_("Chưa có chỉ tiêu"), "neutral")
            if d.target is None
            else (N_("Chưa có số liệu"), "neutral")
        )
    else:
        key = (N_("Đạt chỉ tiêu"), "success") if meets else (N_("Chưa đạt"), "warning")
    # One badge per (text, tone) a request: a ranking repeats the same three hundreds of times.
    badges: dict[tuple[str, str], Markup] = request.state.__dict__.setdefault("status_badges", {})
    if key not in badges:
        badges[key] = component("status_badge")(translator(request)(key[0]), key[1])
    return badges[key]


def _points(
    d: Definition, trend: dict[str, service.Figure], months: list[str], lang: str
) -> list[tuple[str, float | None, str]]:
    """(month label, value, value text) for a chart and its table."""
    values = [trend[m].value if m in trend else None for m in months]
    return [
        (month_label(m), v, service.format_value(d, v, lang))
        for m, v in zip(months, values, strict=True)
    ]


def may_drill(actor: Actor, unit_code: str) -> bool:
    units = actor.units_for(Permission.REPORT_READ)
    return CITY_CODE in units or unit_code in units


@router.get("/lanh-dao/chi-so", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    leader: Leader,
    month: Month = None,
) -> HTMLResponse:
    _ = translator(request)
    lang = request_language(request, negotiate=False)
    current = service.parse_month(month)
    months = service.previous_months(current, TREND_MONTHS)
    defs = await service.shown(session, settings.indicators_dir)
    figures = await service.city_figures(session, defs, months)
    cards = []
    for d in defs:
        trend = figures[d.code]
        now_figure = trend.get(current)
        points = _points(d, trend, months, lang)
        cards.append(
            {
                "d": d,
                "name": d.name(lang),
                "value": service.format_value(d, now_figure.value if now_figure else None, lang),
                "target": None if d.target is None else service.format_value(d, d.target, lang),
                "status": _status(request, d, now_figure),
                "chart": bar_chart(
                    points[-6:],
                    label=_("{name}, 6 tháng gần nhất", name=d.name(lang)),
                    target=d.target if d.unit != "count" else None,
                    width=360,
                    height=160,
                ),
                "trend_text": "; ".join(f"{label}: {text}" for label, _v, text in points[-6:]),
            }
        )
    return render(
        request,
        "indicators/dashboard.html",
        {
            "cards": cards, "month": current, "month_label": month_label(current),
            "months": [(m, month_label(m)) for m in reversed(months)],
        },
    )  # fmt: skip


@router.get("/lanh-dao/chi-so/{code}", response_class=HTMLResponse)
async def indicator_page(
    request: Request,
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    leader: Leader,
    month: Month = None,
) -> HTMLResponse:
    _ = translator(request)
    lang = request_language(request, negotiate=False)
    current = service.parse_month(month)
    d = await service.get_definition(session, code, settings.indicators_dir)
    months = service.previous_months(current, TREND_MONTHS)
    trend = (await service.city_figures(session, [d], months))[d.code]
    points = _points(d, trend, months, lang)
    figures = await service.unit_figures(session, d, current)
    groups = []
    for kinds, title in UNIT_GROUPS:
        units = await service.units_of_kind(session, [str(k) for k in kinds])
        ranked = service.rank(d, units, figures)
        if d.scope == "city" or not any(r.figure for r in ranked):
            continue
        groups.append(
            {"title": _(title), "rows": _ranking_rows(request, d, ranked, current, leader, lang)}
        )
    city = figures.get(CITY_CODE)
    return render(
        request,
        "indicators/indicator.html",
        {
            "d": d, "name": d.name(lang), "explain": d.explain(lang), "month": current,
            "month_label": month_label(current),
            "months": [(m, month_label(m)) for m in reversed(months)],
            "value": service.format_value(d, city.value if city else None, lang),
            "target": None if d.target is None else service.format_value(d, d.target, lang),
            "status": _status(request, d, city),
            "chart": bar_chart(
                points, label=_("{name}, 12 tháng gần nhất", name=d.name(lang)),
                target=d.target if d.unit != "count" else None,
            ),
            "trend_rows": [[label, text] for label, _v, text in points],
            "groups": groups,
            "city_drill": d.detail is not None and may_drill(leader, CITY_CODE) and d.scope == "city",
        },
    )  # fmt: skip


def _ranking_rows(
    request: Request,
    d: Definition,
    ranked: list[service.Ranked],
    month: str,
    leader: Actor,
    lang: str,
) -> list[list[Any]]:
    rows = []
    for r in ranked:
        name: Any = r.unit.name
        if d.detail is not None and may_drill(leader, r.unit.code):
            name = Markup(  # an f-string: Markup.format is ten times slower on 270 rows
                f'<a href="/lanh-dao/chi-so/{escape(d.code)}/don-vi/{escape(r.unit.code)}'
                f'?thang={escape(month)}">{escape(r.unit.name)}</a>'
            )
        f = r.figure
        rows.append([
            "—" if r.rank is None else str(r.rank), name,
            service.format_value(d, f.value if f else (0.0 if d.denominator is None else None), lang),
            "" if f is None else service.format_value(d, f.numerator, lang) if d.unit != "score" else f"{f.numerator:g}",
            "" if f is None or f.denominator is None else f"{f.denominator:,.0f}".replace(",", "."),
            _status(request, d, f),
        ])  # fmt: skip
    return rows


@router.get("/lanh-dao/chi-so/{code}/don-vi/{unit_code}", response_class=HTMLResponse)
async def drill_down(
    request: Request,
    code: str,
    unit_code: str,
    session: SessionDep,
    settings: SettingsDep,
    leader: Leader,
    month: Month = None,
) -> HTMLResponse:
    """The records behind a unit's figure: only for leaders of that unit (or of the city)."""
    current = service.parse_month(month)
    d = await service.get_definition(session, code, settings.indicators_dir)
    if not may_drill(leader, unit_code):
        raise not_found("đơn vị", "unit", unit_code)
    unit = next(iter(await service.units_by_code(session, [unit_code])), None)
    if unit is None and unit_code != CITY_CODE:
        raise not_found("đơn vị", "unit", unit_code)
    columns, rows, more = await service.detail(session, d, unit_code, current)
    lang = request_language(request, negotiate=False)
    figure = (await service.unit_figures(session, d, current)).get(unit_code)
    link = d.detail_link
    cells = []
    for row in rows:
        out: list[Any] = []
        for column, value in zip(columns, row, strict=True):
            text = _cell(value)
            if column == "code" and link:
                out.append(Markup('<a href="{}">{}</a>').format(link.format(code=value), text))
            else:
                out.append(text)
        cells.append(out)
    return render(
        request,
        "indicators/drill.html",
        {
            "d": d, "name": d.name(lang), "unit_name": unit.name if unit else "Thành phố Hà Nội",
            "unit_code": unit_code, "month": current, "month_label": month_label(current),
            "value": service.format_value(d, figure.value if figure else None, lang),
            "columns": [_column_label(request, c) for c in columns], "rows": cells, "more": more,
            "limit": service.DETAIL_LIMIT,
        },
    )  # fmt: skip


COLUMN_LABELS = {
    "code": N_("Mã hồ sơ"), "procedure_name": N_("Thủ tục"), "channel": N_("Cách nộp"), "state": N_("Trạng thái"),
    "submitted_at": N_("Ngày nộp"), "due_at": N_("Hạn giải quyết"), "completed_at": N_("Ngày hoàn thành"),
    "rating": N_("Điểm đánh giá"),
    "category_code": N_("Loại phản ánh"), "rated_at": N_("Ngày đánh giá"),
}  # fmt: skip


def _column_label(request: Request, column: str) -> str:
    label = COLUMN_LABELS.get(column)
    return translator(request)(label) if label else column


def _cell(value: Any) -> str:
    import datetime as dt

    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return to_vn(value).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        try:  # SQLite hands timestamps back as text
            return _cell(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    return "" if value is None else str(value)


@router.get("/lanh-dao/chi-so/{code}/xuat.{fmt}")
async def export(
    request: Request,
    code: str,
    fmt: str,
    session: SessionDep,
    settings: SettingsDep,
    leader: Leader,
    month: Month = None,
) -> Response:
    """The month's figures of every unit, ranked, as CSV or XLSX."""
    current = service.parse_month(month)
    d = await service.get_definition(session, code, settings.indicators_dir)
    if fmt not in ("csv", "xlsx"):
        raise not_found("định dạng", "format", fmt)
    lang = request_language(request, negotiate=False)
    figures = await service.unit_figures(session, d, current)
    units = await service.units_of_kind(
        session, [str(k) for kinds, _t in UNIT_GROUPS for k in kinds]
    )
    ranked = [r for r in service.rank(d, units, figures) if d.scope == "unit"]
    rows = service.export_rows(d, current, ranked, figures.get(CITY_CODE), lang)
    name = f"chi-so-{d.code}-{current}"
    if fmt == "csv":
        return Response(
            "\ufeff" + service.to_csv(rows), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )  # fmt: skip
    return Response(
        service.to_xlsx(rows, d.code),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )
