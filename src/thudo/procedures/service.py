"""The procedure catalog: fees by policy, search, CSV import and export, the seed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from thudo.core import clock
from thudo.core.errors import DomainError, FieldError, Message, not_found, pydantic_field_errors
from thudo.core.i18n import gettext
from thudo.core.text import fold
from thudo.dossiers.workflow import workflows
from thudo.procedures.models import Delegation, FeeRule, Procedure, ProcedureDocument
from thudo.procedures.schemas import (
    CHANNELS,
    SECTORS,
    Channel,
    FeeRuleData,
    ProcedureData,
)

# The workflows a procedure may name. The workflow engine will replace this by its registry.
#   standard:        received → processing → awaiting approval → result issued → returned
#   no_approval:     received → processing → result issued → returned
#   judicial_record: the judicial record certificate (register check, review, signature)

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED_CSV = DATA_DIR / "procedures.csv"
SEED_JSON = DATA_DIR / "procedures.json"

SCALAR_COLUMNS = (
    "code", "name", "name_en", "sector", "level", "competent_unit_code", "competent_unit_name",
    "competent_unit_name_en", "processing_days", "online_level", "min_eid_level",
    "workflow_code", "base_fee", "fee_basis",
)  # fmt: skip
JSON_COLUMNS = ("documents", "fee_rules", "delegations", "form_schema")
CSV_COLUMNS = SCALAR_COLUMNS + JSON_COLUMNS
INT_COLUMNS = ("processing_days", "min_eid_level", "base_fee")


# ---------------------------------------------------------------- fees


@dataclass(frozen=True)
class FeeQuote:
    """What an applicant pays: the amount in đồng, the rule that set it (1-based), why."""

    amount: int
    rule_applied: int | None
    basis: str


def _rule_holds(
    rule: FeeRuleData, *, channel: str, on: dt.date, eid_level: int | None, categories: set[str]
) -> bool:
    if rule.channels and channel not in rule.channels:
        return False
    if rule.valid_from is not None and on < rule.valid_from:
        return False
    if rule.valid_to is not None and on > rule.valid_to:
        return False
    if rule.min_eid_level is not None and (eid_level or 0) < rule.min_eid_level:
        return False
    return not rule.categories or bool(categories.intersection(rule.categories))


def fee_for(
    procedure: ProcedureData,
    *,
    channel: Channel,
    on: dt.date,
    eid_level: int | None,
    categories: Iterable[str] = (),
) -> FeeQuote:
    """The fee by policy: the first rule whose conditions all hold, else the base fee."""
    held = set(categories)
    for position, rule in enumerate(procedure.fee_rules, start=1):
        if not _rule_holds(rule, channel=channel, on=on, eid_level=eid_level, categories=held):
            continue
        if rule.effect == "free":
            amount = 0
        elif rule.effect == "amount":
            amount = rule.value or 0
        else:  # percent off, rounded to the đồng in the applicant's favour
            amount = procedure.base_fee * (100 - (rule.value or 0)) // 100
        return FeeQuote(amount=amount, rule_applied=position, basis=rule.basis)
    return FeeQuote(amount=procedure.base_fee, rule_applied=None, basis=procedure.fee_basis)


def fees_today(procedure: ProcedureData, *, on: dt.date | None = None) -> dict[str, FeeQuote]:
    """Today's fee per channel for an applicant with a level-2 e-ID and no reduction."""
    day = on or clock.today_vn()
    return {c: fee_for(procedure, channel=c, on=day, eid_level=2) for c in CHANNELS}


def sector_name(sector: str, lang: str = "vi") -> str:
    return gettext(SECTORS.get(sector, sector), lang)


# ---------------------------------------------------------------- the catalog in memory


def _osa_distance_at_most_one(a: str, b: str) -> bool:
    """True when a and b differ by one insertion, deletion, substitution or swap."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if la < lb else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


@dataclass
class Entry:
    """One procedure and what search compares it with."""

    data: ProcedureData
    updated_at: dt.datetime
    name_folded: str
    name_en_folded: str
    name_words: frozenset[str]
    other_words: frozenset[str]


def _entry(data: ProcedureData, updated_at: dt.datetime) -> Entry:
    name_folded = fold(data.name)
    name_en_folded = fold(data.name_en)
    others = " ".join(
        [fold(d.name) for d in data.documents]
        + [fold(SECTORS[data.sector]), fold(data.competent_unit_name)]
    )
    return Entry(
        data=data,
        updated_at=updated_at,
        name_folded=name_folded,
        name_en_folded=name_en_folded,
        name_words=frozenset(_words(name_folded) + _words(name_en_folded)),
        other_words=frozenset(_words(others)),
    )


def _words(folded: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in folded).split() if w]


@dataclass
class Catalog:
    """The whole catalog, kept per process: it is small (a few thousand procedures)."""

    stamp: tuple[Any, ...]
    entries: dict[str, Entry]
    vocabulary: frozenset[str] = field(init=False)
    ordered: list[Entry] = field(init=False)  # by name
    name_index: dict[str, set[str]] = field(init=False)  # word → codes whose name has it
    other_index: dict[str, set[str]] = field(init=False)  # word → codes whose documents… have it

    def __post_init__(self) -> None:
        self.ordered = sorted(self.entries.values(), key=lambda e: (e.name_folded, e.data.code))
        self.name_index, self.other_index = {}, {}
        for e in self.ordered:
            for w in e.name_words:
                self.name_index.setdefault(w, set()).add(e.data.code)
            for w in e.other_words:
                self.other_index.setdefault(w, set()).add(e.data.code)
        self.vocabulary = frozenset(self.name_index) | frozenset(self.other_index)

    def get(self, code: str) -> Entry | None:
        return self.entries.get(code)


_cache: Catalog | None = None


def invalidate_cache() -> None:
    global _cache
    _cache = None


async def _stamp(session: AsyncSession) -> tuple[Any, ...]:
    """Changes whenever the catalog does (every write sets updated_at); cheap to read."""
    row = (
        await session.execute(
            select(func.count(Procedure.id), func.max(Procedure.updated_at), func.max(Procedure.id))
        )
    ).one()
    return tuple(row)


def _load_options() -> list[Any]:
    return [
        selectinload(Procedure.documents),
        selectinload(Procedure.fee_rules),
        selectinload(Procedure.delegations),
    ]


def _to_data(p: Procedure, *, trusted: bool = True) -> ProcedureData:
    return ProcedureData.model_validate(p, context={"trusted": trusted})


async def catalog(*, session: AsyncSession) -> Catalog:
    """The catalog as the database holds it now, read again only when it changed."""
    global _cache
    stamp = await _stamp(session)
    if _cache is not None and _cache.stamp == stamp:
        return _cache
    rows = (await session.scalars(select(Procedure).options(*_load_options()))).all()
    _cache = Catalog(stamp=stamp, entries={p.code: _entry(_to_data(p), p.updated_at) for p in rows})
    return _cache


def cached_entry(code: str) -> Entry | None:
    """The procedure as this process last read the catalog, if it did (compare its
    `updated_at` with the database's before relying on it)."""
    return _cache.get(code) if _cache is not None else None


async def get_procedure(*, session: AsyncSession, code: str) -> Entry:
    entry = (await catalog(session=session)).get(code)
    if entry is None:
        raise not_found("thủ tục", "procedure", code)
    return entry


# ---------------------------------------------------------------- search

# How well a query word matches a word of the catalog.
EXACT, PREFIX, TYPO = 1.0, 0.8, 0.6


def _expand(token: str, vocabulary: frozenset[str]) -> dict[str, float]:
    """Catalog words a query word may mean: itself, words it begins, one-letter typos."""
    found: dict[str, float] = {}
    if token in vocabulary:
        found[token] = EXACT
    for word in vocabulary:
        if word == token:
            continue
        if len(token) >= 2 and word.startswith(token):
            found[word] = max(found.get(word, 0), PREFIX)
        elif len(token) >= 3 and _osa_distance_at_most_one(token, word):
            found[word] = max(found.get(word, 0), TYPO)
    return found


def search(
    cat: Catalog,
    *,
    q: str | None = None,
    sector: str | None = None,
    level: str | None = None,
    online: str | None = None,
) -> list[Entry]:
    """Procedures matching the filters, best first.

    Ranking, whatever the diacritics: the code itself; then names containing the query as a
    phrase; then names containing every word (one-letter typos and unfinished words allowed);
    then procedures whose documents, sector or unit supply the missing words.
    """

    def wanted(e: Entry) -> bool:
        return (
            (sector is None or e.data.sector == sector)
            and (level is None or e.data.level == level)
            and (online is None or e.data.online_level == online)
        )

    asked = fold(q or "")
    tokens = _words(asked)
    if not tokens:
        return [e for e in cat.ordered if wanted(e)]
    phrase = " ".join(tokens)
    # Per query word: how well each procedure's name matches it, and which procedures'
    # documents, sector or unit mention it.
    in_name: list[dict[str, float]] = []
    elsewhere: list[set[str]] = []
    for token in tokens:
        scores: dict[str, float] = {}
        others: set[str] = set()
        for word, quality in _expand(token, cat.vocabulary).items():
            for code in cat.name_index.get(word, ()):
                if scores.get(code, 0.0) < quality:
                    scores[code] = quality
            others |= cat.other_index.get(word, set())
        in_name.append(scores)
        elsewhere.append(others)
    candidates = set.intersection(*(set(n) | o for n, o in zip(in_name, elsewhere, strict=True)))
    ranked: list[tuple[tuple[Any, ...], Entry]] = []
    for code in candidates:
        e = cat.entries[code]
        if not wanted(e):
            continue
        name_scores = [n.get(code, 0.0) for n in in_name]
        position = min(
            (i for i in (e.name_folded.find(phrase), e.name_en_folded.find(phrase)) if i >= 0),
            default=-1,
        )
        tier = 4 if position >= 0 else 3 if all(name_scores) else 2
        key = (tier, sum(name_scores), -max(position, 0), -len(e.name_folded), e.data.code)
        ranked.append((key, e))
    for e in cat.ordered:  # the code itself, typed in full, comes first
        code = e.data.code.lower()
        if asked in (code, code.replace(".", "")) and wanted(e):
            ranked = [pair for pair in ranked if pair[1] is not e]
            ranked.append(((5, 0.0, 0, 0, e.data.code), e))
    ranked.sort(key=lambda pair: pair[0], reverse=True)
    return [e for _, e in ranked]


def paginate(items: Sequence[Entry], *, page: int, per_page: int) -> tuple[list[Entry], int]:
    pages = max(1, math.ceil(len(items) / per_page))
    start = (page - 1) * per_page
    return list(items[start : start + per_page]), pages


# ---------------------------------------------------------------- CSV: rows ↔ procedures


def catalog_error(errors: list[FieldError]) -> DomainError:
    first = errors[0]
    return DomainError(
        code="catalog-invalid",
        status=422,
        title=Message("Tệp danh mục thủ tục không hợp lệ", "Invalid procedure catalog file"),
        detail=Message(
            f"{len(errors)} lỗi; không có thay đổi nào được lưu. Lỗi đầu tiên — {first.field}: {first.message.vi}",
            f"{len(errors)} error(s); nothing was changed. First — {first.field}: {first.message.en}",
        ),
        errors=errors,
    )


def _row_error(line: int, column: str, code: str, vi: str, en: str) -> FieldError:
    return FieldError(f"row {line}.{column}", code, Message(vi, en))


def parse_rows(rows: Iterable[tuple[int, dict[str, Any]]]) -> list[ProcedureData]:
    """Validate every row (line number, cells); all of them or a DomainError naming each bad cell."""
    errors: list[FieldError] = []
    parsed: list[ProcedureData] = []
    seen: dict[str, int] = {}
    for line, cells in rows:
        data: dict[str, Any] = {}
        row_errors: list[FieldError] = []
        for column in CSV_COLUMNS:
            raw = cells.get(column)
            if column in JSON_COLUMNS and isinstance(raw, str):
                raw = raw.strip()
                if raw == "":
                    raw = None
                else:
                    try:
                        raw = json.loads(raw)
                    except json.JSONDecodeError as exc:
                        row_errors.append(
                            _row_error(
                                line, column, "json_invalid",
                                f"JSON không hợp lệ (vị trí {exc.pos}).",
                                f"Invalid JSON (at {exc.pos}).",
                            )
                        )  # fmt: skip
                        continue
            if column in JSON_COLUMNS:
                if raw is not None:
                    data[column] = raw
                elif column != "form_schema":
                    data[column] = []
            elif column in INT_COLUMNS:
                text = str(raw or "").strip().replace(".", "").replace(",", "").replace(" ", "")
                try:
                    data[column] = int(text)
                except ValueError:
                    row_errors.append(
                        _row_error(
                            line, column, "int_parsing", "Phải là số nguyên.", "Must be an integer."
                        )
                    )
            elif raw is not None:
                data[column] = str(raw).strip()
        if not row_errors:
            try:
                procedure = ProcedureData.model_validate(data)
            except ValidationError as exc:
                row_errors += [
                    FieldError(f"row {line}.{e.field}", e.code, e.message)
                    for e in pydantic_field_errors(exc.errors())
                ]
            else:
                if procedure.workflow_code not in (known := sorted(workflows())):
                    row_errors.append(
                        _row_error(
                            line,
                            "workflow_code",
                            "unknown_workflow",
                            f"Quy trình không có: {', '.join(known)}.",
                            f"Unknown workflow; known: {', '.join(known)}.",
                        )
                    )
                elif procedure.code in seen:
                    row_errors.append(
                        _row_error(
                            line,
                            "code",
                            "duplicate",
                            f"Mã thủ tục trùng với dòng {seen[procedure.code]}.",
                            f"Same procedure code as row {seen[procedure.code]}.",
                        )
                    )
                else:
                    seen[procedure.code] = line
                    parsed.append(procedure)
        errors += row_errors
    if errors:
        raise catalog_error(errors)
    return parsed


def read_csv(text: str) -> list[ProcedureData]:
    """Procedures from a catalog CSV (as `export_csv` writes it); all rows valid or none."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise catalog_error(
            [
                _row_error(
                    1,
                    c,
                    "missing_column",
                    "Thiếu cột này ở dòng tiêu đề.",
                    "Missing header column.",
                )
                for c in missing
            ]
        )
    rows = []
    for cells in reader:
        rows.append((reader.line_num, cells))
    if not rows:
        raise catalog_error(
            [_row_error(2, "code", "empty", "Tệp không có dòng dữ liệu.", "The file has no rows.")]
        )
    return parse_rows(rows)


def _json_cell(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def export_csv(procedures: Iterable[ProcedureData]) -> str:
    """The catalog as CSV: one row per procedure, nested parts as JSON cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in sorted(procedures, key=lambda p: p.code):
        dumped = p.model_dump(mode="json")
        writer.writerow(
            [dumped[c] for c in SCALAR_COLUMNS] + [_json_cell(dumped[c]) for c in JSON_COLUMNS]
        )
    return out.getvalue()


def read_seed(csv_path: Path = SEED_CSV, json_path: Path = SEED_JSON) -> list[ProcedureData]:
    """The seed catalog: scalar columns in the CSV, nested parts in the JSON (by code)."""
    nested: dict[str, dict[str, Any]] = json.loads(json_path.read_text(encoding="utf-8"))
    reader = csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8")))
    rows = []
    for cells in reader:
        rows.append((reader.line_num, {**cells, **nested.get(cells.get("code") or "", {})}))
    return parse_rows(rows)


# ---------------------------------------------------------------- writing the catalog


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int


def _children(p: ProcedureData) -> dict[str, Any]:
    return {
        "documents": [
            ProcedureDocument(position=i, **d.model_dump()) for i, d in enumerate(p.documents, 1)
        ],
        "fee_rules": [FeeRule(position=i, **r.model_dump()) for i, r in enumerate(p.fee_rules, 1)],
        "delegations": [Delegation(**d.model_dump()) for d in p.delegations],
    }


def _scalars(p: ProcedureData) -> dict[str, Any]:
    values = p.model_dump(exclude={"documents", "fee_rules", "delegations"})
    values["search_name"] = fold(p.name)
    return values


async def import_procedures(
    *, session: AsyncSession, procedures: Sequence[ProcedureData], replace: bool = True
) -> ImportSummary:
    """Create procedures that are new and, when `replace`, update those that differ."""
    existing = {
        p.code: p
        for p in (
            await session.scalars(
                select(Procedure)
                .where(Procedure.code.in_([p.code for p in procedures]))
                .options(*_load_options())
            )
        ).all()
    }
    now = clock.now()
    created = updated = unchanged = 0
    for data in procedures:
        row = existing.get(data.code)
        if row is None:
            session.add(Procedure(**_scalars(data), **_children(data), updated_at=now))
            created += 1
        elif not replace or _to_data(row) == data:
            unchanged += 1
        else:
            for key, value in {**_scalars(data), **_children(data)}.items():
                setattr(row, key, value)
            row.updated_at = now
            updated += 1
    await session.flush()
    invalidate_cache()
    return ImportSummary(created=created, updated=updated, unchanged=unchanged)


async def load_seed(*, session: AsyncSession) -> ImportSummary:
    """The seeded Hà Nội procedures that are missing; procedures already there are kept as edited."""
    return await import_procedures(session=session, procedures=read_seed(), replace=False)


async def all_procedures(*, session: AsyncSession) -> list[ProcedureData]:
    return [e.data for e in (await catalog(session=session)).entries.values()]
