"""`thudo staff` gives a registry citizen a role in a unit, lists it and revokes it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from typer.testing import CliRunner

from tests.identity.people import HOAN_KIEM, Person, citizen
from thudo.cli import app
from thudo.core.settings import get_settings

runner = CliRunner()
_names = itertools.count(1)


@pytest.fixture
async def registered(engine: AsyncEngine) -> AsyncIterator[Person]:
    """A citizen committed to the run's database, as the CLI (another process) would see her."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as db:
        person = await citizen(db, f"Viên Chức Dòng Lệnh {next(_names)}", HOAN_KIEM, account=False)
        await db.commit()
    yield person


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("THUDO_DATABASE_URL", database_url)
    monkeypatch.setenv("THUDO_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_staff_create_prints_a_one_time_password_then_list_and_revoke(
    registered: Person, cli_env: None
) -> None:
    pid = registered.personal_id
    made = runner.invoke(
        app, ["staff", "create", "--personal-id", pid, "--role", "specialist",
              "--unit", "HN-UBND-00070"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "Mật khẩu ban đầu" in made.output and "TOTP" in made.output
    again = runner.invoke(
        app, ["staff", "create", "--personal-id", pid, "--role", "approver",
              "--unit", "HN-UBND-00070"],
    )  # fmt: skip
    assert again.exit_code == 0 and "Dùng tài khoản định danh sẵn có" in again.output
    listed = runner.invoke(app, ["staff", "list", "--personal-id", pid])
    assert listed.exit_code == 0
    assert "specialist" in listed.output and "approver" in listed.output
    revoked = runner.invoke(
        app, ["staff", "revoke", "--personal-id", pid, "--role", "approver",
              "--unit", "HN-UBND-00070"],
    )  # fmt: skip
    assert revoked.exit_code == 0, revoked.output
    after = runner.invoke(app, ["staff", "list", "--personal-id", pid])
    assert "specialist" in after.output and "approver" not in after.output


def test_staff_create_refuses_an_unknown_role_or_unit(cli_env: None) -> None:
    role = runner.invoke(
        app, ["staff", "create", "--personal-id", "001185000001", "--role", "king",
              "--unit", "HN"],
    )  # fmt: skip
    assert role.exit_code == 1 and "vai trò không tồn tại" in role.output.lower()
    unit = runner.invoke(
        app, ["staff", "create", "--personal-id", "001185000001", "--role", "specialist",
              "--unit", "HN-NOWHERE"],
    )  # fmt: skip
    assert unit.exit_code == 1
