"""Indicator definitions are data: one TOML file per indicator.

The platform ships its own in `indicators/definitions/`; a city adds more, without a code
change, in the directory named by THUDO_INDICATORS_DIR (same format; the same code there
replaces the shipped one). Each names a formula over the live tables as one or two SQL
SELECTs returning `unit` (an organisation unit code, "HN" for the city) and `value`:

    numerator   = "SELECT unit_code AS unit, count(*) AS value FROM dossier WHERE … GROUP BY unit_code"
    denominator = "…"   # optional: without it the figure is the numerator (a count)

Parameters the queries may use: `:start`, `:end` (the Hà Nội day as UTC instants, end
exclusive), `:day` (the date) and `:adult_born_by` (born on or before: 18 years old that
day). A `flow` counts what happened during the day and sums over a month; a `stock` is the
state at the end of the day and a month takes its last day. `detail` (optional) lists the
records behind a unit's figure (`:unit`, `:start`, `:end` over the whole period), each
linked through `detail_link`. An indicator whose `requires` tables do not exist yet is not
shown: indicators appear as their data exist. Definitions are trusted like code (they come
from the release or from the operator's directory, never from a web form); on PostgreSQL
the queries still run in a read-only transaction.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SHIPPED_DIR = Path(__file__).parent / "definitions"
PARAMS = frozenset({"start", "end", "day", "adult_born_by"})
DETAIL_PARAMS = frozenset({"unit", "start", "end"})
_PARAM = re.compile(r"(?<![:\w]):([a-z_]+)")


class DefinitionError(ValueError):
    pass


def _check_select(sql: str, allowed: frozenset[str], what: str) -> str:
    body = sql.strip()
    if not re.match(r"(?is)^(select|with)\b", body):
        raise ValueError(f"{what} must be one SELECT (or WITH … SELECT)")
    if ";" in body:
        raise ValueError(f"{what} must be a single statement (no ';')")
    unknown = set(_PARAM.findall(body)) - allowed
    if unknown:
        raise ValueError(f"{what} uses unknown parameters: {', '.join(sorted(unknown))}")
    return body


class Definition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{2,59}$")
    name_vi: str = Field(min_length=3, max_length=200)
    name_en: str = Field(min_length=3, max_length=200)
    explain_vi: str = Field(min_length=3, max_length=500)
    explain_en: str = Field(min_length=3, max_length=500)
    unit: Literal["percent", "count", "score"]
    target: float | None = None
    direction: Literal["up", "down"]
    kind: Literal["flow", "stock"]
    scope: Literal["unit", "city"]
    requires: tuple[str, ...] = ()
    numerator: str
    denominator: str | None = None
    detail: str | None = None
    detail_link: str | None = Field(default=None, pattern=r"^/[^\s]*\{code\}[^\s]*$")
    # The first computation goes this far back (flows; and stocks whose SQL can say how
    # things stood at :end). 0: from today on.
    backfill_days: int = Field(default=400, ge=0, le=3660)
    # How often today's (still moving) figure is recomputed.
    refresh_minutes: int = Field(default=10, ge=1, le=1440)
    # Whether numerator and denominator count people (dossiers, accounts, check-ins): then
    # a published cell below the small-count threshold is suppressed.
    counts_people: bool = True

    @field_validator("numerator")
    @classmethod
    def _numerator(cls, v: str) -> str:
        return _check_select(v, PARAMS, "numerator")

    @field_validator("denominator")
    @classmethod
    def _denominator(cls, v: str | None) -> str | None:
        return None if v is None else _check_select(v, PARAMS, "denominator")

    @field_validator("detail")
    @classmethod
    def _detail(cls, v: str | None) -> str | None:
        return None if v is None else _check_select(v, DETAIL_PARAMS, "detail")

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_vi

    def explain(self, lang: str) -> str:
        return self.explain_en if lang == "en" else self.explain_vi

    @property
    def fingerprint(self) -> str:
        """Changes when the formula changes (its figures are then recomputed)."""
        text = "\x00".join(
            [self.kind, self.scope, self.numerator, self.denominator or "", str(self.backfill_days)]
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def value(self, numerator: float, denominator: float | None) -> float | None:
        """The figure shown: a percentage, a count or an average score."""
        if self.denominator is None:
            return numerator
        if not denominator:
            return None
        ratio = numerator / denominator
        return ratio * 100 if self.unit == "percent" else ratio


def load_file(path: Path) -> Definition:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
        definition = Definition.model_validate(data)
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise DefinitionError(f"{path}: {exc}") from exc
    if definition.code != path.stem:
        raise DefinitionError(f"{path}: the file must be named {definition.code}.toml")
    return definition


def load_dir(directory: Path) -> dict[str, Definition]:
    return {d.code: d for d in (load_file(p) for p in sorted(directory.glob("*.toml")))}


@lru_cache(maxsize=4)
def definitions(extra_dir: str | None = None) -> Mapping[str, Definition]:
    """Every definition: the shipped ones, then the operator's (which may replace them)."""
    found = load_dir(SHIPPED_DIR)
    if extra_dir:
        found.update(load_dir(Path(extra_dir)))
    return found
