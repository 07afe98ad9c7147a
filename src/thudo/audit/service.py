"""Record and verify reads of personal data.

Each read by someone other than the citizen is one row, inserted in the same transaction
as the read (so it cannot be lost while the data were shown). Rows are chained by a
sealer: `seal_pending` gives unsealed rows their place in the chain (`seq`) and a SHA-256
hash over the previous hash and the row's canonical content. Sealing runs after each
request that recorded reads, under a lock, in batches; reads themselves never wait for
the chain. `verify_chain` walks the chain and reports any edited, inserted or deleted row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.audit.models import AuditEvent, AuditSeal
from thudo.core.clock import now
from thudo.core.db import copy_rows, dialect_name, raw_execute
from thudo.identity.deps import Actor

GENESIS = "0" * 64
_SEAL_LOCK = 60_006  # pg_advisory_xact_lock key for the chain
SEAL_BATCH = 5000  # rows chained per transaction


@dataclass(frozen=True)
class Read:
    subject_personal_id: str
    fields: Sequence[str]


def _canonical(row: dict[str, Any]) -> str:
    keys = (
        "id", "seq", "occurred_at", "actor", "actor_unit", "client_id", "action",
        "subject_personal_id", "fields", "purpose", "detail",
    )  # fmt: skip
    payload = {k: row[k] for k in keys}
    payload["occurred_at"] = row["occurred_at"].isoformat()
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + _canonical(row)).encode()).hexdigest()


async def record_reads(
    *,
    session: AsyncSession,
    actor: Actor,
    reads: Iterable[Read],
    purpose: str,
    action: str = "read",
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one audit row per subject read, in the caller's transaction. Returns the count."""
    subjects = [
        r
        for r in reads
        if not (actor.kind == "citizen" and r.subject_personal_id == actor.personal_id)
    ]
    if not subjects:
        return 0
    at, purpose = now(), purpose[:200]
    if len(subjects) > 50 and dialect_name(session) == "postgresql":
        # Verification batches read up to 100,000 citizens: one COPY instead of inserts.
        detail_json = json.dumps(detail or {}, ensure_ascii=False)
        stamp = at.isoformat()
        await copy_rows(
            session,
            "audit_event",
            ("occurred_at", "actor", "actor_unit", "client_id", "action",
             "subject_personal_id", "fields", "purpose", "detail"),
            [(stamp, actor.ref, actor.unit_code, actor.client_id, action, r.subject_personal_id,
              json.dumps(list(r.fields)), purpose, detail_json) for r in subjects],
        )  # fmt: skip
    else:
        await session.execute(
            insert(AuditEvent),
            [
                {"occurred_at": at, "actor": actor.ref, "actor_unit": actor.unit_code,
                 "client_id": actor.client_id, "action": action,
                 "subject_personal_id": r.subject_personal_id, "fields": list(r.fields),
                 "purpose": purpose, "detail": detail or {}}
                for r in subjects
            ],
        )  # fmt: skip
    return len(subjects)


async def record_read(
    *,
    session: AsyncSession,
    actor: Actor,
    subject_personal_id: str,
    fields: Sequence[str],
    purpose: str,
    action: str = "read",
    detail: dict[str, Any] | None = None,
) -> None:
    await record_reads(
        session=session,
        actor=actor,
        reads=[Read(subject_personal_id, fields)],
        purpose=purpose,
        action=action,
        detail=detail,
    )


_COLUMNS = (
    AuditEvent.id, AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.actor,
    AuditEvent.actor_unit, AuditEvent.client_id, AuditEvent.action,
    AuditEvent.subject_personal_id, AuditEvent.fields, AuditEvent.purpose, AuditEvent.detail,
    AuditEvent.prev_hash, AuditEvent.hash,
)  # fmt: skip


async def seal_pending(*, session: AsyncSession, batch: int = SEAL_BATCH) -> int:
    """Chain the committed rows that have no place in the chain yet. Returns how many."""
    if dialect_name(session) == "postgresql":
        # One sealer at a time; readers and writers of audit rows are never blocked.
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SEAL_LOCK})
    last = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.hash)
            .where(AuditEvent.seq.is_not(None))
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
    ).first()
    seq, prev = (int(last[0] or 0), str(last[1])) if last else (0, GENESIS)
    pending = (
        await session.execute(
            select(*_COLUMNS).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id).limit(batch)
        )
    ).mappings()
    updates = []
    for row in pending:
        seq += 1
        values = dict(row)
        values["seq"] = seq
        digest = chain_hash(prev, values)
        updates.append({"id": row["id"], "seq": seq, "prev_hash": prev, "hash": digest})
        prev = digest
    if updates and dialect_name(session) == "postgresql":
        await raw_execute(
            session,
            "UPDATE audit_event AS a SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::varchar[]) "
            "AS v(id, seq, prev_hash, hash) WHERE a.id = v.id",
            (
                [u["id"] for u in updates],
                [u["seq"] for u in updates],
                [u["prev_hash"] for u in updates],
                [u["hash"] for u in updates],
            ),
        )
    elif updates:
        await session.execute(update(AuditEvent), updates)
    if updates:
        session.add(AuditSeal(sealed_at=now(), last_seq=seq, last_hash=prev, count=len(updates)))
        await session.flush()
    return len(updates)


@dataclass(frozen=True)
class ChainReport:
    sealed: int
    pending: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None


async def verify_chain(*, session: AsyncSession, chunk: int = 10_000) -> ChainReport:
    """Walk the chain in order; any edited, inserted, reordered or deleted row breaks it."""
    prev, expected_seq, sealed = GENESIS, 1, 0
    while True:
        rows = (
            (
                await session.execute(
                    select(*_COLUMNS)
                    .where(AuditEvent.seq >= expected_seq)
                    .order_by(AuditEvent.seq)
                    .limit(chunk)
                )
            )
            .mappings()
            .all()
        )
        if not rows:
            break
        for row in rows:
            values = dict(row)
            if values["seq"] != expected_seq:
                return ChainReport(
                    sealed, 0, False, expected_seq,
                    f"record {expected_seq} is missing (deleted)",
                )  # fmt: skip
            if values["prev_hash"] != prev:
                return ChainReport(
                    sealed, 0, False, expected_seq,
                    f"record {expected_seq} does not follow record {expected_seq - 1}",
                )  # fmt: skip
            if chain_hash(prev, values) != values["hash"]:
                return ChainReport(
                    sealed, 0, False, expected_seq,
                    f"record {expected_seq} was altered after it was sealed",
                )  # fmt: skip
            prev = values["hash"]
            expected_seq += 1
            sealed += 1
    pending = (
        await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))
        )
        or 0
    )
    head = (
        await session.execute(
            select(AuditSeal.last_seq, AuditSeal.last_hash).order_by(AuditSeal.id.desc()).limit(1)
        )
    ).first()
    if head is not None and (head[0] > sealed or (head[0] == sealed and head[1] != prev)):
        return ChainReport(
            sealed, pending, False, sealed + 1,
            f"the chain ends at record {sealed} but was sealed up to {head[0]} (tail deleted)",
        )  # fmt: skip
    return ChainReport(sealed, pending, True)


async def reads_of(
    *, session: AsyncSession, personal_id: str, limit: int = 100, offset: int = 0
) -> list[AuditEvent]:
    """The reads of one citizen's data, newest first (her "who read my data" page)."""
    result = await session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_personal_id == personal_id)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(result)


async def count_reads_of(*, session: AsyncSession, personal_id: str) -> int:
    """How many reads of one citizen's data there are (to page through them)."""
    count = await session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.subject_personal_id == personal_id)
    )
    return int(count or 0)
