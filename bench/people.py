"""Bench helpers: signed-in citizens and staff members, and a table filled with COPY."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from thudo.core.clock import now
from thudo.core.db import copy_lines, create_engine, session_factory


async def citizen_cookies(
    session: Any, personal_ids: Sequence[str], *, phone_prefix: str
) -> list[str]:
    """Level-2 e-ID accounts for these registry citizens and a browser session cookie each
    (signed in with a password; nothing committed)."""
    from sqlalchemy import insert

    from thudo.identity.models import Account, Session

    at = now()
    await session.execute(
        insert(Account),
        [
            {"personal_id": pid, "phone": f"{phone_prefix}{n:07d}", "phone_verified_at": at,
             "level": 2, "status": "active", "failed_attempts": 0, "created_at": at,
             "updated_at": at}
            for n, pid in enumerate(personal_ids)
        ],
    )  # fmt: skip
    account_ids = list(
        await session.scalars(select(Account.id).where(Account.personal_id.in_(personal_ids)))
    )
    cookies = [secrets.token_urlsafe(32) for _ in account_ids]
    await session.execute(
        insert(Session),
        [
            {"token_hash": hashlib.sha256(c.encode()).hexdigest(), "account_id": a,
             "amr": ["pwd"], "acr": "eid:level2", "auth_time": at,
             "expires_at": at + dt.timedelta(hours=8)}
            for a, c in zip(account_ids, cookies, strict=True)
        ],
    )  # fmt: skip
    return cookies


async def staff_cookie(
    url: str, *, personal_id: str, name: str, phone: str, role: str, unit_code: str
) -> str:
    """A browser session (password and second factor) for a staff member holding `role` in
    `unit_code`, made with her registry record and account the first time."""
    import thudo.core.models  # noqa: F401  (every table, for the foreign keys)
    from thudo.identity.models import Account, RoleGrant, Session, Unit
    from thudo.registry.models import Citizen

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            at = now()
            account = await session.scalar(
                select(Account).where(Account.personal_id == personal_id)
            )
            if account is None:
                session.add(Citizen(
                    personal_id=personal_id, full_name=name, search_name=name.lower(),
                    birth_date=dt.date(1982, 1, 1), sex="female", permanent_ward_code="00004",
                    permanent_address="Số 1 Lê Lai", created_at=at, updated_at=at,
                ))  # fmt: skip
                await session.flush()
                account = Account(personal_id=personal_id, phone=phone, password_hash="x", level=2,
                                  status="active", failed_attempts=0, created_at=at, updated_at=at)  # fmt: skip
                session.add(account)
                await session.flush()
                unit = await session.scalar(select(Unit.id).where(Unit.code == unit_code))
                session.add(RoleGrant(account_id=account.id, role=role, unit_id=unit,
                                      granted_by="bench", granted_at=at))  # fmt: skip
            cookie = secrets.token_urlsafe(32)
            session.add(Session(
                token_hash=hashlib.sha256(cookie.encode()).hexdigest(), account_id=account.id,
                amr=["pwd", "otp"], acr="eid:level2", auth_time=at, expires_at=at + dt.timedelta(hours=8),
            ))  # fmt: skip
            await session.commit()
            return cookie
    finally:
        await engine.dispose()


def copy_table(
    url: str, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> float:
    """Append rows with COPY in batches, then VACUUM ANALYZE; returns the seconds the load
    itself took (without the VACUUM)."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    started = time.perf_counter()
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            batch: list[Sequence[object]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == 20_000:
                    copy.write("".join(copy_lines(batch)))
                    batch.clear()
            if batch:
                copy.write("".join(copy_lines(batch)))
        conn.commit()
        loaded = time.perf_counter() - started
        conn.autocommit = True
        cur.execute(f"VACUUM ANALYZE {table}")
    return loaded
