"""From `thudo staff create` to a ward-scoped read: the initial password signs her in, she
must enrol TOTP and replace the one-time password, and only then does her session carry
her role's permissions."""

from __future__ import annotations

import httpx
import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from tests.identity.helpers import post_form, sign_in
from tests.identity.people import BA_DINH, HOAN_KIEM, citizen
from tests.web.html import parse
from thudo.identity.permissions import Role
from thudo.identity.staff import create_staff
from thudo.identity.units import branch_code


async def test_a_new_officer_signs_in_enrols_totp_and_reads_only_her_wards_citizens(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    officer = await citizen(db, "Lâm Thị Mới Vào", HOAN_KIEM, account=False)
    neighbour = await citizen(db, "Lâm Văn Cùng Phường", HOAN_KIEM, account=False)
    far = await citizen(db, "Lâm Văn Phường Khác", BA_DINH, account=False)
    made = await create_staff(
        session=db, personal_id=officer.personal_id, role=Role.ONE_STOP_OFFICER,
        unit_code=branch_code(HOAN_KIEM), granted_by="cli",
    )  # fmt: skip
    await db.commit()
    assert made.initial_password
    first = await sign_in(client, officer.personal_id, made.initial_password, "/can-bo")
    assert first.headers["location"] == "/dang-nhap/thiet-lap-xac-thuc"
    assert (await client.get("/can-bo/dinh-danh-muc-2")).status_code == 303  # not yet
    enrol = parse((await client.get("/dang-nhap/thiet-lap-xac-thuc")).text)
    totp = pyotp.TOTP(enrol.find("code", class_="totp-secret").text.replace(" ", ""))
    done = await post_form(
        client, "/dang-nhap/thiet-lap-xac-thuc", {"code": totp.now()},
        page="/dang-nhap/thiet-lap-xac-thuc",
    )  # fmt: skip
    # The one-time password came from an administrator: she sets her own first.
    assert done.headers["location"] == "/tai-khoan#doi-mat-khau"
    account = await client.get("/tai-khoan")
    assert "Hãy đổi mật khẩu tạm thời" in account.text
    assert (await client.get("/can-bo/dinh-danh-muc-2")).status_code == 403  # not yet
    assert (
        await client.get(f"/api/v1/registry/citizens/{neighbour.personal_id}")
    ).status_code == 403
    changed = await post_form(
        client, "/tai-khoan/mat-khau",
        {"current_password": made.initial_password, "password": "một mật khẩu riêng dài",
         "password_confirm": "một mật khẩu riêng dài"},
        page="/tai-khoan",
    )  # fmt: skip
    assert changed.headers["location"] == "/tai-khoan?notice=password_changed"
    assert "Hãy đổi mật khẩu tạm thời" not in (await client.get("/tai-khoan")).text
    home = await client.get("/can-bo")
    assert "Cán bộ một cửa" in home.text and "Định danh điện tử mức độ 2" in home.text
    assert (await client.get("/can-bo/dinh-danh-muc-2")).status_code == 200
    mine = await client.get(f"/api/v1/registry/citizens/{neighbour.personal_id}")
    assert mine.status_code == 200 and mine.json()["full_name"] == "Lâm Văn Cùng Phường"
    other = await client.get(f"/api/v1/registry/citizens/{far.personal_id}")
    assert other.status_code == 404
