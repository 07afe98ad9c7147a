"""An operator registers, lists and disables API clients, and rotates keys, from the shell."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thudo.cli import app
from thudo.core.migrate import upgrade
from thudo.core.settings import get_settings


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """`thudo` on its own migrated database (the CLI commits)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    for name, value in {
        "THUDO_ENV": "test", "THUDO_DATABASE_URL": url, "THUDO_DATA_DIR": str(tmp_path),
        "THUDO_SECRET_KEY": "cli-test-secret-0123456789abcdefghijkl",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_clients_are_created_with_a_secret_shown_once_listed_and_disabled(
    shell: CliRunner,
) -> None:
    created = shell.invoke(
        app,
        ["clients", "create", "--name", "Cổng Bệnh viện", "--kind", "web",
         "--redirect-uri", "https://bv.example.vn/cb", "--redirect-uri", "https://bv.example.vn/cb2",
         "--scopes", "openid profile personal_id"],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    client_id = re.search(r"client_id: (\S+)", created.output)
    secret = re.search(r"client_secret: (\S+)", created.output)
    assert client_id and secret and len(secret.group(1)) >= 43
    public = shell.invoke(
        app, ["clients", "create", "--name", "iHanoi", "--kind", "public",
              "--redirect-uri", "vn.hanoi.app:/cb", "--scopes", "openid", "--first-party"],
    )  # fmt: skip
    assert public.exit_code == 0 and "client_secret" not in public.output
    listed = shell.invoke(app, ["clients", "list"])
    assert client_id.group(1) in listed.output and secret.group(1) not in listed.output
    assert "first-party" in listed.output
    disabled = shell.invoke(app, ["clients", "disable", client_id.group(1)])
    assert disabled.exit_code == 0
    assert "disabled" in shell.invoke(app, ["clients", "list"]).output


def test_bad_client_registrations_are_refused_with_the_reason(shell: CliRunner) -> None:
    refused = shell.invoke(
        app, ["clients", "create", "--name", "X", "--kind", "service", "--scopes", "openid"]
    )
    assert refused.exit_code == 2
    assert "openid" in refused.output
    no_uri = shell.invoke(
        app, ["clients", "create", "--name", "X", "--kind", "web", "--scopes", "openid"]
    )
    assert no_uri.exit_code == 2


def test_keys_rotate_retires_the_previous_key(shell: CliRunner) -> None:
    first = shell.invoke(app, ["keys", "rotate"])
    assert first.exit_code == 0 and "rs256-1" in first.output
    second = shell.invoke(app, ["keys", "rotate"])
    assert "signing key: rs256-2; retired: rs256-1" in second.output
