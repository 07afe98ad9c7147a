"""An operator loads the facilities and cards, registers a hospital's system and binds an
existing client, and prints a kiosk's address, from the shell."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thudo.cli import app
from thudo.core.migrate import upgrade
from thudo.core.settings import get_settings
from thudo.health.pages import kiosk_key

SECRET = "cli-test-secret-0123456789abcdefghijkl"


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    for name, value in {
        "THUDO_ENV": "test", "THUDO_DATABASE_URL": url, "THUDO_DATA_DIR": str(tmp_path),
        "THUDO_SECRET_KEY": SECRET,
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_facilities_clients_and_kiosk_addresses_from_the_shell(shell: CliRunner) -> None:
    seeded = shell.invoke(app, ["health", "seed", "--no-demo"])
    assert seeded.exit_code == 0, seeded.output
    assert "Cơ sở khám chữa bệnh: 168 mới" in seeded.output
    again = shell.invoke(app, ["health", "seed", "--no-demo"])
    assert "Cơ sở khám chữa bệnh: 0 mới" in again.output
    created = shell.invoke(app, ["health", "clients", "create", "--facility", "BV-XANHPON"])
    assert created.exit_code == 0, created.output
    assert re.search(r"client_id: service-\S+", created.output)
    assert re.search(r"client_secret: \S{43}", created.output)
    unknown = shell.invoke(app, ["health", "clients", "create", "--facility", "BV-KHONGCO"])
    assert unknown.exit_code == 1
    other = shell.invoke(app, ["clients", "create", "--name", "HIS Bạch Mai", "--kind", "service", "--scopes", "health:coverage health:read"])  # fmt: skip
    client_id = re.search(r"client_id: (\S+)", other.output)
    assert other.exit_code == 0 and client_id, other.output
    bound = shell.invoke(app, ["health", "clients", "bind", "--facility", "BV-BACHMAI", "--client-id", client_id.group(1)])  # fmt: skip
    assert bound.exit_code == 0 and "BV-BACHMAI" in bound.output
    kiosk = shell.invoke(app, ["health", "kiosk-url", "BV-DUCGIANG"])
    assert kiosk.exit_code == 0
    assert kiosk.output.strip().endswith(f"/ki-ot/BV-DUCGIANG?k={kiosk_key(SECRET, 'BV-DUCGIANG')}")
