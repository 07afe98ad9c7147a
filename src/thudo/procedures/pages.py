"""Citizen pages of the procedure catalog: search (/thu-tuc) and one procedure (/thu-tuc/{code})."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from thudo.core import clock
from thudo.core.access import PUBLIC
from thudo.core.deps import SessionDep
from thudo.core.i18n import N_, request_language
from thudo.procedures import service
from thudo.procedures.schemas import (
    CATEGORIES,
    CHANNEL_NAMES,
    LEVELS,
    ONLINE_LEVELS,
    SECTORS,
    FeeRuleData,
)
from thudo.web.templating import component, render, translator

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[PUBLIC])
PER_PAGE = 20

WORKFLOW_STEPS: dict[str, list[str]] = {
    "standard": [
        N_("Tiếp nhận"), N_("Xử lý hồ sơ"), N_("Chờ phê duyệt"), N_("Ký, cấp kết quả"), N_("Trả kết quả")
    ],
    "no_approval": [N_("Tiếp nhận"), N_("Xử lý hồ sơ"), N_("Ký, cấp kết quả"), N_("Trả kết quả")],
    "judicial_record": [
        N_("Tiếp nhận"), N_("Tra cứu, xác minh lý lịch tư pháp"), N_("Chờ phê duyệt"),
        N_("Ký, cấp Phiếu"), N_("Trả kết quả"),
    ],
}  # fmt: skip
SUPPLIED_BY = {
    "registry": N_("Lấy từ Cơ sở dữ liệu dân cư"),
    "wallet": N_("Lấy từ kho giấy tờ của công dân"),
}


def money(amount: int, lang: str) -> str:
    if lang == "en":
        return f"{amount:,} VND"
    return f"{amount:,}".replace(",", ".") + " đồng"


def fee_text(amount: int, _: Callable[..., str], lang: str) -> str:
    return _("Miễn phí") if amount == 0 else money(amount, lang)


def day(value: dt.date) -> str:
    return value.strftime("%d/%m/%Y")


def processing_text(days: int, _: Callable[..., str]) -> str:
    if days == 0:
        return _("Trong ngày làm việc")
    if days == 1:
        return _("1 ngày làm việc")
    return _("{n} ngày làm việc", n=days)


def rule_text(rule: FeeRuleData, _: Callable[..., str], lang: str) -> tuple[str, str]:
    """A fee rule in words: (when it applies, what it does)."""
    when = []
    if rule.channels:
        when.append(", ".join(_(CHANNEL_NAMES[c]) for c in rule.channels))
    if rule.valid_from and rule.valid_to:
        when.append(_("từ {start} đến {end}", start=day(rule.valid_from), end=day(rule.valid_to)))
    elif rule.valid_from:
        when.append(_("từ {start}", start=day(rule.valid_from)))
    elif rule.valid_to:
        when.append(_("đến hết {end}", end=day(rule.valid_to)))
    if rule.min_eid_level:
        when.append(_("có định danh điện tử mức {n}", n=rule.min_eid_level))
    if rule.categories:
        when.append(", ".join(_(CATEGORIES[c]) for c in rule.categories))
    if rule.effect == "free":
        effect = _("Miễn phí")
    elif rule.effect == "amount":
        effect = money(rule.value or 0, lang)
    else:
        effect = _("Giảm {p}%", p=rule.value)
    return ("; ".join(when) or _("Mọi trường hợp")), effect


@router.get("/thu-tuc", response_class=HTMLResponse)
async def catalog_page(
    request: Request,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sector: Annotated[str | None, Query(max_length=40)] = None,
    level: Annotated[str | None, Query(max_length=12)] = None,
    online: Annotated[str | None, Query(max_length=8)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    _ = translator(request)
    lang = request_language(request, negotiate=False)
    # A filter the page does not know is ignored rather than refused: links get mangled.
    sector = sector if sector in SECTORS else None
    level = level if level in LEVELS else None
    online = online if online in ONLINE_LEVELS else None
    cat = await service.catalog(session=session)
    found = service.search(cat, q=q, sector=sector, level=level, online=online)
    items, pages = service.paginate(found, page=page, per_page=PER_PAGE)
    today = clock.today_vn()
    results = []
    for e in items:
        p = e.data
        delegation = p.delegation_on(today)
        results.append(
            {
                "code": p.code,
                "name": p.name if lang == "vi" else p.name_en,
                "sector": _(SECTORS[p.sector]),
                "level": _(LEVELS[p.level]),
                "unit": (delegation.unit_name if lang == "vi" else delegation.unit_name_en)
                if delegation
                else (p.competent_unit_name if lang == "vi" else p.competent_unit_name_en),
                "processing": processing_text(p.processing_days, _),
                "online": _(ONLINE_LEVELS[p.online_level]),
                "online_tone": {"full": "success", "partial": "info"}.get(
                    p.online_level, "neutral"
                ),
            }
        )
    return render(
        request,
        "procedures/catalog.html",
        {
            "q": q or "",
            "sector": sector,
            "level": level,
            "online": online,
            "sectors": sorted(((k, _(v)) for k, v in SECTORS.items()), key=lambda kv: kv[1]),
            "levels": [(k, _(v)) for k, v in LEVELS.items()],
            "online_levels": [(k, _(v)) for k, v in ONLINE_LEVELS.items()],
            "results": results,
            "total": len(found),
            "page": min(page, pages),
            "pages": pages,
            "filtered": bool(q or sector or level or online),
        },
    )


@router.get("/thu-tuc/{code}", response_class=HTMLResponse)
async def procedure_page(request: Request, code: str, session: SessionDep) -> HTMLResponse:
    _ = translator(request)
    lang = request_language(request, negotiate=False)
    entry = await service.get_procedure(session=session, code=code)
    p = entry.data
    today = clock.today_vn()
    en = lang == "en"
    delegation = p.delegation_on(today)
    badge = component("status_badge")
    channels = [
        c for c in ("online", "desk", "assisted") if c != "online" or p.online_level != "none"
    ]
    fees = service.fees_today(p, on=today)
    fee_rows = [
        [_(CHANNEL_NAMES[c]), fee_text(fees[c].amount, _, lang), fees[c].basis] for c in channels
    ]
    rules = [rule_text(r, _, lang) for r in p.fee_rules]
    documents = [
        [
            d.name_en if en else d.name,
            _("Bắt buộc") if d.mandatory else _("Nếu có"),
            str(d.copies),
            ", ".join(f.upper() for f in d.formats),
            badge(_(SUPPLIED_BY[d.supplied_by]), "success")
            if d.supplied_by
            else _("Người nộp cung cấp"),
        ]
        for d in p.documents
    ]
    delegations = [
        [
            d.unit_name_en if en else d.unit_name,
            d.decision_number,
            day(d.effective_from),
            day(d.effective_to) if d.effective_to else _("Chưa có ngày kết thúc"),
        ]
        for d in p.delegations
    ]
    facts: list[tuple[str, Any]] = [
        (_("Mã thủ tục"), p.code),
        (_("Lĩnh vực"), _(SECTORS[p.sector])),
        (_("Cấp thực hiện"), _(LEVELS[p.level])),
        (_("Cơ quan có thẩm quyền"), p.competent_unit_name_en if en else p.competent_unit_name),
    ]
    if delegation:
        facts.append(
            (
                _("Cơ quan được ủy quyền giải quyết"),
                _(
                    "{unit} (theo {decision}, từ {start})",
                    unit=delegation.unit_name_en if en else delegation.unit_name,
                    decision=delegation.decision_number,
                    start=day(delegation.effective_from),
                ),
            )
        )
    facts += [
        (_("Thời hạn giải quyết"), processing_text(p.processing_days, _)),
        (_("Mức độ trực tuyến"), badge(_(ONLINE_LEVELS[p.online_level]), "info")),
        (
            _("Tài khoản định danh điện tử để nộp trực tuyến"),
            _("Mức {n} trở lên", n=p.min_eid_level) if p.online_level != "none" else None,
        ),
    ]
    return render(
        request,
        "procedures/procedure.html",
        {
            "p": p,
            "name": p.name_en if en else p.name,
            "facts": facts,
            "fee_rows": fee_rows,
            "rules": rules,
            "documents": documents,
            "delegations": delegations,
            "steps": [_(s) for s in WORKFLOW_STEPS.get(p.workflow_code, [])],
            "today": day(today),
        },
    )
