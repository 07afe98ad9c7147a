"""The audit log is a hash chain: editing, inserting or deleting a record is detected."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.audit.models import AuditEvent
from thudo.audit.service import Read, record_reads, seal_pending, verify_chain
from thudo.core.clock import now
from thudo.identity.deps import Actor

AGENCY = Actor(
    kind="client",
    id="so-y-te",
    name="Sở Y tế",
    client_id="so-y-te",
    scopes=frozenset({"registry:read"}),
)


async def _fill(db: AsyncSession, n: int = 6) -> list[int]:
    await record_reads(
        session=db, actor=AGENCY, purpose="khám chữa bệnh",
        reads=[Read(f"00119{i:07d}", ["full_name"]) for i in range(n)],
    )  # fmt: skip
    await seal_pending(session=db)
    return list(
        await db.scalars(
            select(AuditEvent.seq).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq)
        )
    )


async def test_an_untouched_chain_verifies(db: AsyncSession) -> None:
    await _fill(db)
    report = await verify_chain(session=db)
    assert report.ok and report.sealed >= 6 and report.pending == 0


async def test_an_edited_record_is_detected(db: AsyncSession) -> None:
    seqs = await _fill(db)
    await db.execute(
        update(AuditEvent).where(AuditEvent.seq == seqs[2]).values(purpose="không ai đọc")
    )
    report = await verify_chain(session=db)
    assert not report.ok and report.first_bad_seq == seqs[2]
    assert "altered" in (report.problem or "")


async def test_a_deleted_record_is_detected(db: AsyncSession) -> None:
    seqs = await _fill(db)
    await db.execute(delete(AuditEvent).where(AuditEvent.seq == seqs[3]))
    report = await verify_chain(session=db)
    assert not report.ok and report.first_bad_seq == seqs[3]


async def test_a_deleted_tail_is_detected(db: AsyncSession) -> None:
    seqs = await _fill(db)
    await db.execute(delete(AuditEvent).where(AuditEvent.seq >= seqs[-2]))
    report = await verify_chain(session=db)
    assert not report.ok


async def test_an_inserted_forgery_is_detected(db: AsyncSession) -> None:
    seqs = await _fill(db)
    await db.execute(
        update(AuditEvent).where(AuditEvent.seq > seqs[1]).values(seq=AuditEvent.seq + 1000)
    )
    row = (await db.execute(select(AuditEvent).where(AuditEvent.seq == seqs[1]))).scalar_one()
    db.add(
        AuditEvent(
            occurred_at=now(), actor="client:forger", action="read", subject_personal_id="001190000001",
            fields=["full_name"], purpose="giả mạo", detail={}, seq=seqs[1] + 1, prev_hash=row.hash, hash="f" * 64,
        )
    )  # fmt: skip
    await db.flush()
    report = await verify_chain(session=db)
    assert not report.ok and report.first_bad_seq == seqs[1] + 1


async def test_reads_by_the_citizen_herself_are_not_recorded(db: AsyncSession) -> None:
    herself = Actor(kind="citizen", id="42", name="Chị An", personal_id="001190000042")
    before = await db.scalar(select(func.count()).select_from(AuditEvent))
    await record_reads(
        session=db, actor=herself, purpose="xem", reads=[Read("001190000042", ["full_name"])]
    )
    assert await db.scalar(select(func.count()).select_from(AuditEvent)) == before
