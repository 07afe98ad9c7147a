"""The demo seed gives a developer two e-ID accounts to try, one at each level."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.helpers import registry_citizen, sign_in
from thudo.identity.demo import DEMO_PASSWORD, ensure_demo_accounts


async def test_the_demo_accounts_exist_once_at_levels_one_and_two_and_sign_in(
    client: httpx.AsyncClient, admin_headers: dict[str, str], db: AsyncSession
) -> None:
    await registry_citizen(client, admin_headers)
    await registry_citizen(client, admin_headers)
    first = await ensure_demo_accounts(session=db)
    again = await ensure_demo_accounts(session=db)
    assert [a.level for a in first] == [1, 2]
    assert first == again
    await db.commit()
    for demo in first:
        response = await sign_in(client, demo.personal_id, DEMO_PASSWORD)
        assert response.status_code == 303, demo
