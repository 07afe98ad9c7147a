"""Input and output of the procedure catalog, and its vocabulary (sectors, levels, channels)."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from thudo.core.i18n import N_
from thudo.core.text import nfc

Level = Literal["city", "department", "ward"]
OnlineLevel = Literal["full", "partial", "none"]
Channel = Literal["online", "desk", "assisted"]
SuppliedBy = Literal["registry", "wallet"]
Effect = Literal["free", "amount", "percent"]

CHANNELS: tuple[Channel, ...] = ("online", "desk", "assisted")

# Sector key → its name (lĩnh vực), Vietnamese; the English name comes from the catalogs.
SECTORS: dict[str, str] = {
    "tu-phap": N_("Lý lịch tư pháp"),
    "ho-tich": N_("Hộ tịch"),
    "chung-thuc": N_("Chứng thực"),
    "cu-tru": N_("Cư trú"),
    "dang-ky-kinh-doanh": N_("Đăng ký kinh doanh"),
    "xay-dung": N_("Xây dựng"),
    "dat-dai": N_("Đất đai"),
    "y-te": N_("Y tế"),
    "giao-duc": N_("Giáo dục và Đào tạo"),
    "lao-dong-tbxh": N_("Lao động - Thương binh và Xã hội"),
    "giao-thong": N_("Giao thông vận tải"),
    "noi-vu": N_("Nội vụ"),
    "van-hoa": N_("Văn hóa"),
    "tai-nguyen-moi-truong": N_("Tài nguyên và Môi trường"),
}

LEVELS: dict[str, str] = {
    "city": N_("Cấp thành phố"),
    "department": N_("Cấp sở, ngành"),
    "ward": N_("Cấp xã, phường"),
}

ONLINE_LEVELS: dict[str, str] = {
    "full": N_("Trực tuyến toàn trình"),
    "partial": N_("Trực tuyến một phần"),
    "none": N_("Nộp trực tiếp"),
}

CHANNEL_NAMES: dict[str, str] = {
    "online": N_("Nộp trực tuyến"),
    "desk": N_("Nộp tại bộ phận một cửa"),
    "assisted": N_("Nộp có người hỗ trợ"),
}

# Applicant categories a fee rule may name (Thông tư 244/2016/TT-BTC and similar).
CATEGORIES: dict[str, str] = {
    "student": N_("Học sinh, sinh viên"),
    "people_with_merit": N_("Người có công với cách mạng"),
    "martyr_relative": N_("Thân nhân liệt sĩ"),
    "poor_household": N_("Người thuộc hộ nghèo"),
    "child": N_("Trẻ em"),
    "elderly": N_("Người cao tuổi"),
    "disabled": N_("Người khuyết tật"),
    "remote_commune": N_("Người cư trú tại xã đặc biệt khó khăn"),
}

FORMAT_PATTERN = r"^[a-z0-9]{2,5}$"
CODE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z.\-_]{2,19}$"


def _text(value: str) -> str:
    return nfc(value)


def _bad(en: str, vi: str) -> PydanticCustomError:
    """A validation error in both languages (core/errors.py reads `vi` from its context)."""
    return PydanticCustomError("value_error", "{en}", {"en": en, "vi": vi})


class DocumentData(BaseModel):
    """A required document (thành phần hồ sơ)."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")

    name: str = Field(min_length=3, max_length=400)
    name_en: str = Field(min_length=3, max_length=400)
    mandatory: bool = True
    copies: int = Field(1, ge=1, le=20)
    formats: list[str] = Field(default_factory=lambda: ["pdf"], min_length=1, max_length=10)
    supplied_by: SuppliedBy | None = None

    _clean = field_validator("name", "name_en")(_text)

    @field_validator("formats")
    @classmethod
    def _formats(cls, value: list[str]) -> list[str]:
        for f in value:
            if not re.fullmatch(FORMAT_PATTERN, f):
                raise _bad(
                    f"file format {f!r} is not a lower-case extension like pdf",
                    f"định dạng tệp {f!r} phải là phần mở rộng chữ thường, ví dụ pdf",
                )
        return value


class FeeRuleData(BaseModel):
    """A fee policy rule: conditions (empty means any) and an effect, with its legal basis."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")

    channels: list[Channel] = Field(default_factory=list)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    min_eid_level: Literal[1, 2] | None = None
    categories: list[str] = Field(default_factory=list)
    effect: Effect
    value: int | None = Field(None, ge=0, le=1_000_000_000)
    basis: str = Field(min_length=3, max_length=2000)

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CATEGORIES]
        if unknown:
            raise _bad(
                f"unknown applicant category {unknown[0]!r}; known: {', '.join(CATEGORIES)}",
                f"đối tượng {unknown[0]!r} không có trong danh mục: {', '.join(CATEGORIES)}",
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FeeRuleData:
        if self.effect == "free" and self.value not in (None, 0):
            raise _bad("a free rule has no value", "quy tắc miễn phí không có giá trị value")
        if self.effect == "amount" and self.value is None:
            raise _bad(
                "an amount rule needs the amount in đồng as value",
                "quy tắc mức thu cần số tiền (đồng) ở value",
            )
        if self.effect == "percent" and (self.value is None or not 1 <= self.value <= 100):
            raise _bad(
                "a percent rule needs a value from 1 to 100",
                "quy tắc giảm theo phần trăm cần value từ 1 đến 100",
            )
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise _bad("valid_from is after valid_to", "valid_from sau valid_to")
        return self


class DelegationData(BaseModel):
    """A delegation plan: the unit that decides instead of the competent one, for a period."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")

    unit_code: str = Field(min_length=2, max_length=40)
    unit_name: str = Field(min_length=3, max_length=200)
    unit_name_en: str = Field(min_length=3, max_length=200)
    decision_number: str = Field(min_length=3, max_length=60)
    effective_from: dt.date
    effective_to: dt.date | None = None

    _clean = field_validator("unit_name", "unit_name_en", "decision_number")(_text)

    @model_validator(mode="after")
    def _period(self) -> DelegationData:
        if self.effective_to and self.effective_to < self.effective_from:
            raise _bad("effective_to is before effective_from", "effective_to trước effective_from")
        return self

    def in_force(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


class ProcedureData(BaseModel):
    """A whole procedure as the catalog keeps it, imports it and exports it."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")

    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=5, max_length=300)
    name_en: str = Field(min_length=5, max_length=300)
    sector: str
    level: Level
    competent_unit_code: str = Field(min_length=2, max_length=40)
    competent_unit_name: str = Field(min_length=3, max_length=200)
    competent_unit_name_en: str = Field(min_length=3, max_length=200)
    processing_days: int = Field(ge=0, le=365)
    online_level: OnlineLevel
    min_eid_level: Literal[1, 2]
    workflow_code: str = Field(min_length=2, max_length=30)
    base_fee: int = Field(ge=0, le=1_000_000_000)
    fee_basis: str = Field(max_length=2000)
    form_schema: dict[str, Any]
    documents: list[DocumentData] = Field(default_factory=list, max_length=50)
    fee_rules: list[FeeRuleData] = Field(default_factory=list, max_length=50)
    delegations: list[DelegationData] = Field(default_factory=list, max_length=50)

    _clean = field_validator(
        "name", "name_en", "competent_unit_name", "competent_unit_name_en", "fee_basis"
    )(_text)

    @field_validator("sector")
    @classmethod
    def _sector(cls, value: str) -> str:
        if value not in SECTORS:
            raise _bad(
                f"unknown sector {value!r}; known: {', '.join(SECTORS)}",
                f"lĩnh vực {value!r} không có trong danh mục: {', '.join(SECTORS)}",
            )
        return value

    @field_validator("form_schema")
    @classmethod
    def _form_schema(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if info.context and info.context.get("trusted"):
            return value  # read back from the database, checked when it was imported
        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as exc:
            raise _bad(
                f"not a valid JSON Schema (draft 2020-12): {exc.message}",
                f"không phải JSON Schema hợp lệ (draft 2020-12): {exc.message}",
            ) from exc
        if value.get("type") != "object":
            raise _bad(
                'the form schema must describe an object ("type": "object")',
                'biểu mẫu phải mô tả một đối tượng ("type": "object")',
            )
        return value

    @model_validator(mode="after")
    def _delegations_do_not_overlap(self) -> ProcedureData:
        spans = sorted(self.delegations, key=lambda d: d.effective_from)
        for before, after in itertools.pairwise(spans):
            if before.effective_to is None or before.effective_to >= after.effective_from:
                raise _bad(
                    f"delegations overlap: {before.decision_number} and {after.decision_number}",
                    f"các phương án ủy quyền chồng thời gian: {before.decision_number} và {after.decision_number}",
                )
        return self

    def delegation_on(self, on: dt.date) -> DelegationData | None:
        return next((d for d in self.delegations if d.in_force(on)), None)


class FeeQuoteOut(BaseModel):
    amount: int
    rule_applied: int | None = Field(description="1-based position of the rule; null: base fee")
    basis: str


class ProcedureSummary(BaseModel):
    code: str
    name: str
    name_en: str
    sector: str
    sector_name: str
    sector_name_en: str
    level: Level
    competent_unit_name: str
    competent_unit_name_en: str
    processing_days: int
    online_level: OnlineLevel
    delegated_unit_name: str | None
    delegated_unit_name_en: str | None


class ProcedurePage(BaseModel):
    items: list[ProcedureSummary]
    total: int
    page: int
    per_page: int
    pages: int


class ProcedureDetail(ProcedureData):
    sector_name: str
    sector_name_en: str
    delegation_in_force: DelegationData | None
    fee_today: dict[str, FeeQuoteOut] = Field(
        description="Today's fee per channel for an applicant with a level-2 e-ID and no reduction"
    )
    updated_at: dt.datetime
