"""Fixtures for parking: two small lots of two operators, an operator on duty, a citizen."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.people import Person, citizen, grant, sign_in
from thudo.core.clock import now
from thudo.core.settings import Settings, payment_webhook_secret
from thudo.identity.models import Unit
from thudo.parking.models import Lot, Operator, Space, Tariff
from thudo.payments import service as payments
from thudo.payments.providers import SANDBOX_BANK, signed_headers


@dataclass
class Lots:
    a: Lot  # run by the city's parking company (unit HN-SXD)
    b: Lot  # run by UBND phường Ba Đình
    operator_unit: Unit


async def make_lot(
    db: AsyncSession,
    operator: Operator,
    code: str,
    name: str,
    ward: str,
    lat: float,
    lon: float,
    bikes: int,
    cars: int,
) -> Lot:
    lot = Lot(
        code=code, name=name, address=f"{name}, Hà Nội", ward_code=ward, lat=lat, lon=lon,
        operator_id=operator.id, kind="surface", opening_hours="24/7", created_at=now(),
    )  # fmt: skip
    db.add(lot)
    await db.flush()
    for vehicle, capacity, tariff in (
        ("motorbike", bikes, (5_000, 8_000, 0, 150_000)),
        ("car", cars, (35_000, 100_000, 35_000, 3_000_000)),
    ):
        if capacity:
            day, night, hourly, monthly = tariff
            db.add(
                Space(lot_id=lot.id, vehicle_type=vehicle, capacity=capacity, occupied=0, held=0)
            )
            db.add(Tariff(lot_id=lot.id, vehicle_type=vehicle, day_turn=day, night_turn=night, hourly=hourly, monthly=monthly))  # fmt: skip
    await db.flush()
    return lot


async def _operator(db: AsyncSession, code: str, unit_code: str) -> tuple[Operator, Unit]:
    unit = (await db.execute(select(Unit).where(Unit.code == unit_code))).scalar_one()
    await payments.set_collection_account(
        db, unit=unit, bank_bin="970415", bank_name="VietinBank",
        account_number=f"99{uuid.uuid4().int % 10**10:010d}", account_name="TK THU NGHIEM",
        is_demo=True,
    )  # fmt: skip
    operator = Operator(code=code, name=f"Đơn vị {code}", unit_id=unit.id, created_at=now())
    db.add(operator)
    await db.flush()
    return operator, unit


@pytest.fixture
async def lots(db: AsyncSession) -> Lots:
    suffix = uuid.uuid4().hex[:5].upper()
    company, unit = await _operator(db, f"T-DDX-{suffix}", "HN-SXD")
    ward_run, _ = await _operator(db, f"T-BD-{suffix}", "HN-UBND-00004")
    a = await make_lot(db, company, f"TA-{suffix}", "Bãi thử Lê Thạch", "00070", 21.02625, 105.85410, 5, 2)  # fmt: skip
    b = await make_lot(db, ward_run, f"TB-{suffix}", "Bãi thử Hoàng Diệu", "00004", 21.03450, 105.83970, 3, 1)  # fmt: skip
    await db.commit()
    return Lots(a, b, unit)


@pytest.fixture
async def driver(db: AsyncSession) -> Person:
    person = await citizen(db, "Phạm Thu Hà")
    await sign_in(db, person, amr=("pwd",))
    return person


@pytest.fixture
async def attendant(db: AsyncSession, lots: Lots) -> Person:
    """A parking operator of the city's company (HN-SXD), signed in with a second factor."""
    person = await citizen(db, "Đỗ Văn Gác")
    await grant(db, person, "parking_operator", "HN-SXD")
    await sign_in(db, person)
    return person


@pytest.fixture
def pay(client: httpx.AsyncClient, settings: Settings) -> Any:
    """The sandbox bank pays an invoice: a signed transfer notification with its code."""

    async def run(invoice_code: str, amount: int) -> httpx.Response:
        body = {
            "id": f"FT{uuid.uuid4().hex[:12]}", "amount": amount, "content": invoice_code,
            "account_number": None, "transaction_time": now().isoformat(),
        }  # fmt: skip
        raw = orjson.dumps(body)
        secret = payment_webhook_secret(settings, SANDBOX_BANK)
        assert secret is not None
        return await client.post(
            f"/api/v1/payments/webhooks/{SANDBOX_BANK}", content=raw,
            headers=signed_headers(secret, raw),
        )  # fmt: skip

    return run
