"""Input and output of the registry API."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from thudo.core.clock import today_vn
from thudo.core.text import has_control_characters, nfc
from thudo.registry.personal_id import consistency_problem, structure_problem

Sex = Literal["male", "female"]
Status = Literal["alive", "deceased"]
_PHONE = re.compile(r"^(\+84|0)[35789][0-9]{8}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WARD = re.compile(r"^[0-9]{5}$")


def _personal_id(value: str) -> str:
    problem = structure_problem(value)
    if problem:
        raise PydanticCustomError(problem.code, problem.en, {"vi": problem.vi})
    return value


def _name(value: str) -> str:
    if has_control_characters(value):
        raise PydanticCustomError(
            "name.control_characters",
            "The name contains control characters.",
            {"vi": "Họ tên chứa ký tự điều khiển không hợp lệ."},
        )
    value = nfc(value)
    if not value or any(c.isdigit() for c in value):
        raise PydanticCustomError(
            "name.invalid",
            "The name must contain letters only.",
            {"vi": "Họ tên chỉ được chứa chữ cái."},
        )
    return value


def _text(value: str) -> str:
    if has_control_characters(value):
        raise PydanticCustomError(
            "text.control_characters",
            "The text contains control characters.",
            {"vi": "Nội dung chứa ký tự điều khiển không hợp lệ."},
        )
    return nfc(value)


def _birth_date(value: dt.date) -> dt.date:
    if value > today_vn():
        raise PydanticCustomError(
            "birth_date.future",
            "The birth date cannot be in the future.",
            {"vi": "Ngày sinh không được ở tương lai."},
        )
    if value.year < 1900:
        raise PydanticCustomError(
            "birth_date.too_old",
            "The birth date cannot be before 1900.",
            {"vi": "Ngày sinh không được trước năm 1900."},
        )
    return value


def _ward_code(value: str) -> str:
    if not _WARD.match(value):
        raise PydanticCustomError(
            "ward_code.format",
            "A ward code has 5 digits.",
            {"vi": "Mã phường, xã gồm 5 chữ số."},
        )
    return value


def _phone(value: str) -> str:
    value = value.replace(" ", "").replace(".", "")
    if not _PHONE.match(value):
        raise PydanticCustomError(
            "phone.format",
            "Not a Vietnamese mobile number.",
            {"vi": "Số điện thoại di động không hợp lệ."},
        )
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise PydanticCustomError(
            "email.format", "Not an e-mail address.", {"vi": "Địa chỉ email không hợp lệ."}
        )
    return value.strip().lower()


PersonalId = Annotated[str, AfterValidator(_personal_id)]
FullName = Annotated[str, Field(min_length=2, max_length=150), AfterValidator(_name)]
Address = Annotated[str, Field(min_length=2, max_length=300), AfterValidator(_text)]
BirthDate = Annotated[dt.date, AfterValidator(_birth_date)]
WardCode = Annotated[str, AfterValidator(_ward_code)]
Phone = Annotated[str, AfterValidator(_phone)]
Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
ShortText = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_text)]
Reason = Annotated[str, Field(min_length=3, max_length=500), AfterValidator(_text)]


def _check_death(birth: dt.date | None, status: str | None, death: dt.date | None) -> None:
    if status == "deceased" and death is None:
        raise PydanticCustomError(
            "death_date.missing",
            "A deceased citizen needs a death date.",
            {"vi": "Công dân đã mất cần có ngày mất.", "field": "death_date"},
        )
    if death is not None:
        if birth is not None and death < birth:
            raise PydanticCustomError(
                "death_date.before_birth",
                "The death date is before the birth date.",
                {"vi": "Ngày mất trước ngày sinh.", "field": "death_date"},
            )
        if death > today_vn():
            raise PydanticCustomError(
                "death_date.future",
                "The death date cannot be in the future.",
                {"vi": "Ngày mất không được ở tương lai.", "field": "death_date"},
            )


class CitizenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    personal_id: PersonalId
    full_name: FullName
    birth_date: BirthDate
    sex: Sex
    ethnicity: ShortText = "Kinh"
    nationality: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "VN"
    permanent_ward_code: WardCode
    permanent_address: Address
    temporary_ward_code: WardCode | None = None
    temporary_address: Address | None = None
    household_id: int | None = None
    relation_to_head: ShortText | None = None
    status: Status = "alive"
    death_date: dt.date | None = None
    phone: Phone | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CitizenCreate:
        problem = consistency_problem(self.personal_id, self.birth_date, self.sex)
        if problem:
            raise PydanticCustomError(
                problem.code, problem.en, {"vi": problem.vi, "field": "personal_id"}
            )
        _check_death(self.birth_date, self.status, self.death_date)
        if (self.temporary_ward_code is None) != (self.temporary_address is None):
            raise PydanticCustomError(
                "temporary_residence.incomplete",
                "A temporary residence needs both a ward and an address.",
                {"vi": "Nơi tạm trú cần cả phường, xã và địa chỉ.", "field": "temporary_address"},
            )
        return self


class CitizenUpdate(BaseModel):
    """A correction or change of a citizen record; the reason is always required."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Reason
    full_name: FullName | None = None
    birth_date: BirthDate | None = None
    sex: Sex | None = None
    ethnicity: ShortText | None = None
    nationality: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    permanent_ward_code: WardCode | None = None
    permanent_address: Address | None = None
    temporary_ward_code: WardCode | None = None
    temporary_address: Address | None = None
    household_id: int | None = None
    relation_to_head: ShortText | None = None
    status: Status | None = None
    death_date: dt.date | None = None
    phone: Phone | None = None
    email: Email | None = None

    def changes(self) -> dict[str, Any]:
        """The fields the caller set (explicit nulls included), without the reason."""
        return {k: getattr(self, k) for k in self.model_fields_set if k != "reason"}


class CitizenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    personal_id: str
    full_name: str
    birth_date: dt.date
    sex: str
    ethnicity: str
    nationality: str
    permanent_ward_code: str
    permanent_address: str
    temporary_ward_code: str | None
    temporary_address: str | None
    household_id: int | None
    relation_to_head: str | None
    status: str
    death_date: dt.date | None
    phone: str | None
    email: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class CitizenSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    personal_id: str
    full_name: str
    birth_date: dt.date
    sex: str
    permanent_ward_code: str
    status: str


class CitizenPage(BaseModel):
    items: list[CitizenSummary]
    limit: int
    offset: int
    has_more: bool


class CitizenChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    changed_at: dt.datetime
    changed_by: str
    reason: str
    changes: dict[str, Any]


class HouseholdOut(BaseModel):
    id: int
    code: str
    ward_code: str
    address: str
    head_personal_id: str | None
    members: list[CitizenSummary]
