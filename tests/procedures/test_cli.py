"""`thudo procedures export|import|seed` on a database of its own, as an operator runs them."""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thudo.cli import app
from thudo.core.db import is_sqlite
from thudo.core.migrate import upgrade
from thudo.core.settings import get_settings


@pytest.fixture
def operator_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated database of the kind under test that the commands may change for good."""
    requested = os.environ.get("THUDO_TEST_DATABASE_URL", "")
    name = None
    if requested and not is_sqlite(requested):
        from tests.conftest import _create_pg_database, _drop_pg_database

        name, url = _create_pg_database(requested)
    else:
        url = f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
    try:
        upgrade(url)
        monkeypatch.setenv("THUDO_DATABASE_URL", url)
        monkeypatch.setenv("THUDO_DATA_DIR", str(tmp_path / "var"))
        get_settings.cache_clear()
        yield url
    finally:
        get_settings.cache_clear()
        if name is not None:
            _drop_pg_database(requested, name)


def test_seed_export_and_import_round_trip_and_a_bad_file_changes_nothing(
    operator_database: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    seeded = runner.invoke(app, ["procedures", "seed"])
    assert seeded.exit_code == 0, seeded.output
    assert "48 mới" in seeded.output
    assert "0 mới, 48 đã có" in runner.invoke(app, ["procedures", "seed"]).output

    exported = tmp_path / "catalog.csv"
    assert runner.invoke(app, ["procedures", "export", str(exported)]).exit_code == 0
    rows = list(csv.DictReader(exported.open(encoding="utf-8")))
    assert len(rows) == 48

    same = runner.invoke(app, ["procedures", "import", str(exported)])
    assert same.exit_code == 0 and "0 mới, 0 cập nhật, 48 không đổi" in same.output

    rows[0]["name"] = "Tên đã sửa"
    rows[1]["level"] = "district"
    bad = tmp_path / "bad.csv"
    with bad.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    refused = runner.invoke(app, ["procedures", "import", str(bad)])
    assert refused.exit_code == 1
    assert "row 3.level" in refused.output and "Nothing was changed" in refused.output

    again = tmp_path / "again.csv"
    runner.invoke(app, ["procedures", "export", str(again)])
    assert again.read_text(encoding="utf-8") == exported.read_text(encoding="utf-8")
