"""e-ID provider throughput: client-credentials tokens and userinfo, each with p99.

    python -m bench.identity_bench --admin-url postgresql://postgres@127.0.0.1:5432/postgres

Targets (issue 3): client-credentials token >= 500/s, userinfo >= 1,500/s, two worker
processes, 32 connections, wrk on the same machine. The bench makes its own database
(migrated, one citizen with an e-ID account and a browser session, a partner system and a
relying party), drops it at the end (--keep to look at it), and never touches another.
Every token request signs an RS256 JWT and records its jti; every userinfo call verifies
the signature, reads the token row with the claims, and writes the audit record of the
release (the relying party is not first-party).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import os
import secrets
import tempfile
import uuid

import httpx
import psycopg
from sqlalchemy.engine import make_url

from bench.server import machine, running_server, wrk

TOKEN_LUA = """
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=registry:read"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic %(basic)s"
"""
USERINFO_LUA = """
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer %(token)s"
"""


async def _prepare(url: str) -> dict[str, str]:
    """One citizen signed in, a partner system and a relying party, committed."""
    from thudo.core.clock import now
    from thudo.core.db import create_engine, session_factory
    from thudo.geo.service import load_geography
    from thudo.identity.clients import create_client
    from thudo.identity.models import Account
    from thudo.identity.models import Session as BrowserSession
    from thudo.identity.tokens import digest
    from thudo.registry.models import Citizen
    from thudo.registry.personal_id import make_personal_id

    engine = create_engine(url)
    cookie = secrets.token_urlsafe(32)
    try:
        async with session_factory(engine)() as s:
            await load_geography(session=s)
            at = now()
            personal_id = make_personal_id("001", 1990, "male", 424242)
            s.add(Citizen(
                personal_id=personal_id, full_name="Nguyễn Văn Bench", birth_date=dt.date(1990, 1, 2),
                sex="male", permanent_ward_code="00070", permanent_address="1 Tràng Tiền",
                search_name="nguyen van bench", version=1, created_at=at, updated_at=at,
            ))  # fmt: skip
            await s.flush()
            account = Account(
                personal_id=personal_id, phone="0900000000", level=2,
                status="active", failed_attempts=0, created_at=at, updated_at=at,
            )  # fmt: skip
            s.add(account)
            await s.flush()
            s.add(BrowserSession(
                token_hash=digest(cookie), account_id=account.id, amr=["pwd"],
                acr="eid:level2", auth_time=at, expires_at=at + dt.timedelta(hours=4),
            ))  # fmt: skip
            partner, partner_secret = await create_client(
                session=s, name="Bench partner", kind="service", scopes=["registry:read"]
            )
            rp, rp_secret = await create_client(
                session=s, name="Bench relying party", kind="web",
                redirect_uris=["http://127.0.0.1/cb"], scopes=["openid", "profile"],
                allow_http=True,
            )  # fmt: skip
            await s.commit()
    finally:
        await engine.dispose()
    assert partner_secret and rp_secret
    return {
        "cookie": cookie, "partner": partner.client_id, "partner_secret": partner_secret,
        "rp": rp.client_id, "rp_secret": rp_secret,
    }  # fmt: skip


def _user_access_token(base: str, data: dict[str, str]) -> str:
    """A real authorization code flow (with consent) for the userinfo run."""
    from tests.web.html import parse

    verifier = secrets.token_urlsafe(48)
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    params = {
        "response_type": "code", "client_id": data["rp"], "redirect_uri": "http://127.0.0.1/cb",
        "scope": "openid profile", "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256", "state": "bench",
    }  # fmt: skip
    with httpx.Client(base_url=base, cookies={"thudo_session": data["cookie"]}) as http:
        page = http.get("/oauth2/authorize", params=params)
        form = parse(page.text).find("form", action="/oauth2/authorize")
        hidden = {
            el.attrs["name"]: el.attrs.get("value", "")
            for el in form.find_all("input")
            if el.attrs.get("type") == "hidden"
        }
        back = http.post("/oauth2/authorize", data={**hidden, "decision": "accept"})
        code = httpx.URL(back.headers["location"]).params["code"]
        token = http.post(
            "/oauth2/token",
            data={"grant_type": "authorization_code", "code": code,
                  "redirect_uri": "http://127.0.0.1/cb", "code_verifier": verifier},
            auth=(data["rp"], data["rp_secret"]),
        )  # fmt: skip
        token.raise_for_status()
        access: str = token.json()["access_token"]
        assert http.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 200  # fmt: skip
        return access


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    from thudo.core.migrate import upgrade

    admin = make_url(args.admin_url)
    name = f"thudo_bench_identity_{uuid.uuid4().hex[:8]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        data = asyncio.run(_prepare(url))
        basic = base64.b64encode(f"{data['partner']}:{data['partner_secret']}".encode()).decode()
        env = {"THUDO_ENV": "development", "THUDO_SECRET_KEY": secrets.token_urlsafe(32)}
        with tempfile.TemporaryDirectory() as tmp, running_server(url, workers=args.workers, env=env) as base:  # fmt: skip
            token_script = os.path.join(tmp, "token.lua")
            with open(token_script, "w") as fh:
                fh.write(TOKEN_LUA % {"basic": basic})
            userinfo_script = os.path.join(tmp, "userinfo.lua")
            with open(userinfo_script, "w") as fh:
                fh.write(USERINFO_LUA % {"token": _user_access_token(base, data)})
            wrk(base + "/oauth2/token", connections=4, seconds=2, script=token_script)  # warm-up
            token = wrk(base + "/oauth2/token", connections=args.connections,
                        seconds=args.seconds, script=token_script)  # fmt: skip
            wrk(base + "/oauth2/userinfo", connections=4, seconds=2, script=userinfo_script)
            userinfo = wrk(base + "/oauth2/userinfo", connections=args.connections,
                           seconds=args.seconds, script=userinfo_script)  # fmt: skip
    finally:
        if not args.keep:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"machine: {machine()}")
    print(
        f"workers: {args.workers}, connections: {args.connections}, {args.seconds} s each, "
        "wrk on the same machine, PostgreSQL"
    )
    print(token.line("client-credentials token"))
    print(userinfo.line("userinfo"))
    ok_token = token.requests_per_s >= 500 and token.non_2xx == 0
    ok_info = userinfo.requests_per_s >= 1500 and userinfo.non_2xx == 0
    print("target token (>= 500/s, no errors):", "MET" if ok_token else "NOT MET")
    print("target userinfo (>= 1,500/s, no errors):", "MET" if ok_info else "NOT MET")


if __name__ == "__main__":
    main()
