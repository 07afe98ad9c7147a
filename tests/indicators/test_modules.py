"""The indicators over reports, surveys and health equal direct counts of the same rows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.identity.people import citizen
from tests.indicators.helpers import clean_slate, vn
from thudo.core.clock import now
from thudo.feedback.models import Category, Report
from thudo.health.models import CheckIn, Facility, Intake
from thudo.identity.models import Unit
from thudo.indicators.compute import compute, day_window
from thudo.indicators.models import IndicatorDay
from thudo.participation.models import Response, Survey

DAY = dt.date(2026, 11, 10)


async def _figure(
    db: AsyncSession, code: str, unit: str, day: dt.date = DAY
) -> tuple[float, float | None]:
    row = (
        await db.execute(
            select(IndicatorDay.numerator, IndicatorDay.denominator).where(
                IndicatorDay.indicator_code == code, IndicatorDay.unit_code == unit,
                IndicatorDay.day == day,
            )
        )
    ).first()  # fmt: skip
    return (row[0], row[1]) if row else (0.0, 0.0)


async def test_reports_surveys_and_health_figures_equal_direct_counts(
    db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await clean_slate(db)
    at = now()
    db.add(Category(code="den-duong-t", group_name="Hạ tầng", name="Đèn đường hỏng",
                    name_en="Street light", description="Đèn không sáng", sla_working_days=2))  # fmt: skip
    await db.flush()
    # Reports: answered on time, late, and one answered the next day (Hà Nội time).
    for i, (answered, due) in enumerate([
        (vn(DAY, 9), vn(DAY, 17)), (vn(DAY, 10), vn(DAY, 8)), (vn(DAY, 16), None),
        (vn(DAY, 23, 30), vn(DAY + dt.timedelta(days=1), 9)), (vn(DAY + dt.timedelta(days=1), 0, 30), vn(DAY, 12)),
    ]):  # fmt: skip
        db.add(Report(
            code=f"PA-T{i}", category_code="den-duong-t", status="resolved", description="Đèn hỏng",
            public_description="Đèn hỏng", ward_code="00070", ward_name="Phường Hoàn Kiếm",
            channel="web", unit_code="HN-UBND-00070", due_at=due, resolved_at=answered,
            received_at=answered - dt.timedelta(days=1), created_at=at, updated_at=at,
        ))  # fmt: skip
    # Health: two check-ins verified by personal ID, one uninsured; intakes verified and held.
    db.add(Facility(code="T-BV01", name="Bệnh viện Thử", level="city", kind="hospital",
                    ward_code="00070", address="1 Tràng Thi", insurance_contract=True, created_at=at))  # fmt: skip
    await db.flush()
    for i, insured in enumerate([True, True, False]):
        db.add(CheckIn(facility_code="T-BV01", department="noi", day=DAY, queue_number=i + 1,
                       personal_id=f"00118500{i:04d}", insured=insured, ticket_token=f"t{i}",
                       created_at=vn(DAY, 8 + i)))  # fmt: skip
    for i, outcome in enumerate(["verified", "verified", "verified", "held"]):
        db.add(Intake(facility_code="T-BV01", personal_id=f"00119000{i:04d}", outcome=outcome,
                      received_at=vn(DAY, 10)))  # fmt: skip
    # A survey of the ward's People's Committee, answered by three residents that day.
    unit = await db.scalar(select(Unit).where(Unit.code == "HN-UBND-00070"))
    assert unit is not None
    survey = Survey(title="Phân loại rác", unit_id=unit.id, opens_at=vn(DAY, 0), closes_at=vn(DAY, 23),
                    created_by="staff:1", created_by_name="Cán bộ", created_at=at, updated_at=at)  # fmt: skip
    db.add(survey)
    await db.flush()
    for i in range(3):
        person = await citizen(db, f"Người Trả Lời {i}")
        db.add(
            Response(
                survey_id=survey.id, personal_id=person.personal_id, submitted_at=vn(DAY, 9 + i)
            )
        )
    await db.commit()

    await compute(
        session_factory,
        today=DAY + dt.timedelta(days=1),
        since=DAY - dt.timedelta(days=1),
        force=True,
    )

    start, end = day_window(DAY)
    answered = (
        Report.unit_code == "HN-UBND-00070",
        Report.resolved_at >= start,
        Report.resolved_at < end,
    )
    on_time = (Report.due_at.is_(None)) | (Report.resolved_at <= Report.due_at)
    count = select(func.count()).select_from(Report)
    assert (
        await _figure(db, "reports_on_time_rate", "HN-UBND-00070")
        == (
            await db.scalar(count.where(*answered, on_time)),
            await db.scalar(count.where(*answered)),
        )
        == (3, 4)
    )
    assert (await _figure(db, "health_insurance_checkins", "HN-UBND-00070"))[0] == 2
    verified = await _figure(
        db, "health_records_verified_share", "HN-UBND-00070", DAY + dt.timedelta(days=1)
    )
    assert verified == (3, 4)
    assert (await _figure(db, "survey_participation", "HN-UBND-00070"))[0] == 3
    assert (await _figure(db, "survey_participation", "HN"))[0] == 3


async def test_catalog_e_id_and_payment_figures_equal_direct_counts(
    db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    from thudo.core.clock import today_vn
    from thudo.identity.models import Account
    from thudo.indicators.compute import adult_born_by
    from thudo.procedures.models import Procedure
    from thudo.registry.models import Citizen

    await clean_slate(db)
    for i, level in enumerate([2, 2, 1]):
        await citizen(db, f"Người Lớn Số {i}", "00070", level=level)
    await citizen(db, "Không Tài Khoản", "00070", account=False)
    await db.commit()
    today = today_vn()
    await compute(session_factory, today=today, since=today, force=True)
    count = select(func.count())
    assert await _figure(db, "procedures_online_share", "HN", today) == (
        await db.scalar(count.select_from(Procedure).where(Procedure.online_level.in_(["full", "partial"]))),
        await db.scalar(count.select_from(Procedure)),
    )  # fmt: skip
    adults = (
        Citizen.status == "alive",
        Citizen.birth_date <= adult_born_by(today),
        Citizen.permanent_ward_code == "00070",
    )
    level2 = await db.scalar(
        count.select_from(Citizen)
        .join(Account, Account.personal_id == Citizen.personal_id)
        .where(*adults, Account.level == 2, Account.status == "active")
    )
    assert await _figure(db, "eid_level2_adult_share", "HN-UBND-00070", today) == (
        level2,
        await db.scalar(count.select_from(Citizen).where(*adults)),
    )
    assert level2 and level2 >= 2


async def test_payment_and_delegation_figures_equal_direct_counts(
    db: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    from thudo.payments.models import Invoice
    from thudo.procedures.models import Delegation, Procedure

    await clean_slate(db)
    unit = await db.scalar(select(Unit).where(Unit.code == "HN-STP"))
    assert unit is not None
    at = now()
    for i, provider in enumerate(["sandbox-bank", "sandbox-card", "cash", None]):
        paid = provider is not None
        db.add(Invoice(
            code=f"HDT{i:05d}", payer_name="Người Nộp", purpose="dossier_fee", reference=f"r{i}",
            description="Lệ phí", amount=200_000, unit_id=unit.id, bank_bin="970415",
            account_number="1130000", due_at=at + dt.timedelta(days=1),
            status="paid" if paid else "open", paid_at=vn(DAY, 10 + i) if paid else None,
            paid_amount=200_000 if paid else 0, provider=provider, created_by="test",
            created_at=at, updated_at=at,
        ))  # fmt: skip
    procedure = await db.scalar(select(Procedure).order_by(Procedure.code).limit(1))
    assert procedure is not None
    db.add(Delegation(
        procedure_id=procedure.id, unit_code="HN-UBND-00070", unit_name="UBND phường Hoàn Kiếm",
        unit_name_en="Hoan Kiem ward", decision_number="99/QĐ-UBND",
        effective_from=DAY - dt.timedelta(days=5), effective_to=DAY + dt.timedelta(days=5),
    ))  # fmt: skip
    await db.commit()
    await compute(session_factory, today=DAY, since=DAY - dt.timedelta(days=1), force=True)
    start, end = day_window(DAY)
    paid = (Invoice.unit_id == unit.id, Invoice.paid_at >= start, Invoice.paid_at < end)
    count = select(func.count()).select_from(Invoice)
    assert (
        await _figure(db, "payments_cashless_share", "HN-STP")
        == (
            await db.scalar(count.where(*paid, Invoice.provider != "cash")),
            await db.scalar(count.where(*paid)),
        )
        == (2, 3)
    )
    in_force = await db.scalar(
        select(func.count(func.distinct(Delegation.procedure_id))).where(
            Delegation.effective_from <= DAY,
            (Delegation.effective_to.is_(None)) | (Delegation.effective_to >= DAY),
        )
    )
    assert (await _figure(db, "procedures_delegated", "HN"))[0] == in_force
