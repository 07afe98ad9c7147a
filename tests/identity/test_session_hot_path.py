"""A browser session read on PostgreSQL's hot path (one statement on the asyncpg pool)
opens to the same person with the same permissions as the ORM path, and refuses the same
sessions: revoked, expired, or of a disabled account."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.identity.people import HOAN_KIEM, citizen, grant, sign_in
from tests.identity.test_deployed_read import _forget
from thudo.core.clock import now
from thudo.core.db import create_hot_pool, session_factory
from thudo.core.settings import Settings
from thudo.identity.models import Account, Session
from thudo.identity.staff import actor_for, signed_in, signed_in_hot
from thudo.identity.units import branch_code

pytestmark = pytest.mark.skipif(
    "postgresql" not in os.environ.get("THUDO_TEST_DATABASE_URL", ""),
    reason="the asyncpg hot path exists on PostgreSQL only (the ORM path is tested on both)",
)


async def test_a_session_opens_to_the_same_actor_on_both_paths_and_is_refused_alike(
    settings: Settings, engine: AsyncEngine
) -> None:
    factory = session_factory(engine)
    async with factory() as db:
        officer = await citizen(db, "Quách Thị Hai Bước", HOAN_KIEM, level=2)
        await grant(db, officer, "one_stop_officer", branch_code(HOAN_KIEM))
        await grant(db, officer, "specialist", f"HN-UBND-{HOAN_KIEM}")
        with_otp = await sign_in(db, officer)
        password_only = await sign_in(db, officer, amr=("pwd",))
        handed = await citizen(db, "Khúc Văn Mật Khẩu Tạm", HOAN_KIEM, level=2)
        await grant(db, handed, "one_stop_officer", branch_code(HOAN_KIEM))
        one_time = await sign_in(db, handed)
        await db.execute(
            update(Account)
            .where(Account.id == handed.account_id)
            .values(password_change_required=True)
        )
        lan = await citizen(db, "Lương Thị Công Dân", HOAN_KIEM)
        plain = await sign_in(db, lan, amr=("pwd",))
        revoked = await sign_in(db, lan, amr=("pwd",))
        expired = await sign_in(db, lan, amr=("pwd",))
        await db.execute(
            update(Session).where(Session.token_hash == _hash(revoked)).values(revoked_at=now())
        )
        await db.execute(
            update(Session)
            .where(Session.token_hash == _hash(expired))
            .values(expires_at=now() - dt.timedelta(seconds=1))
        )
        await db.commit()
    pool = await create_hot_pool(settings.database_url, size=1)
    try:

        async def both(cookie: str) -> tuple[object, object]:
            async with factory() as s:
                who = await signed_in(session=s, cookie=cookie)
                orm = None if who is None else (who, await actor_for(session=s, who=who))
            return orm, await signed_in_hot(pool, cookie)

        for cookie in (with_otp, password_only, one_time, plain):
            orm, hot = await both(cookie)
            assert orm is not None and orm == hot
        orm, hot = await both(with_otp)
        assert hot is not None and hot[1].kind == "staff"
        assert ("dossier:process", f"HN-UBND-{HOAN_KIEM}") in hot[1].grants
        for cookie in (password_only, one_time):
            orm, hot = await both(cookie)
            assert hot is not None and hot[1].kind == "citizen" and not hot[1].grants
        for cookie in (revoked, expired, "no-such-cookie"):
            assert await both(cookie) == (None, None)
        async with factory() as s:
            await s.execute(
                update(Account).where(Account.id == lan.account_id).values(status="disabled")
            )
            await s.commit()
        assert await both(plain) == (None, None)
    finally:
        await pool.close()
        await _forget(engine, [officer, handed, lan])


def _hash(cookie: str) -> str:
    from thudo.identity.staff import token_hash

    return token_hash(cookie)
