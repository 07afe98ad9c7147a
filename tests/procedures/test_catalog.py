"""The procedure catalog: seeded Hà Nội procedures, search without diacritics, details, CSV."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.errors import DomainError
from thudo.procedures import service
from thudo.procedures.models import Procedure, ProcedureDocument

API = "/api/v1/procedures"


async def names(client: httpx.AsyncClient, **params: object) -> list[str]:
    response = await client.get(API, params={"per_page": 100, **params})
    assert response.status_code == 200, response.text
    return [p["name"] for p in response.json()["items"]]


async def test_the_seed_holds_at_least_40_hanoi_procedures_at_every_level(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get(API, params={"per_page": 100})).json()
    assert body["total"] >= 40
    assert {p["level"] for p in body["items"]} == {"city", "department", "ward"}
    assert len({p["sector"] for p in body["items"]}) >= 10
    assert any(p["delegated_unit_name"] for p in body["items"])


async def test_loading_the_seed_again_changes_nothing(db: AsyncSession) -> None:
    before = await db.scalar(select(func.count(Procedure.id)))
    summary = await service.load_seed(session=db)
    assert summary.created == 0 and summary.unchanged == before


async def test_ly_lich_tu_phap_without_diacritics_finds_both_judicial_record_certificates_first(
    client: httpx.AsyncClient,
) -> None:
    found = await names(client, q="ly lich tu phap")
    assert set(found[:2]) == {
        "Cấp Phiếu lý lịch tư pháp số 1 cho công dân Việt Nam",
        "Cấp Phiếu lý lịch tư pháp số 2 cho công dân Việt Nam",
    }
    assert (await names(client, q="Lý lịch tư pháp số 2"))[0].startswith(
        "Cấp Phiếu lý lịch tư pháp số 2"
    )


async def test_khai_sinh_ranks_names_before_procedures_whose_documents_mention_it(
    client: httpx.AsyncClient,
) -> None:
    found = await names(client, q="khai sinh")
    in_name = [n for n in found if "khai sinh" in n.lower()]
    assert found[0] == "Đăng ký khai sinh"
    assert found[: len(in_name)] == in_name
    assert len(found) > len(in_name)  # guardianship: "Giấy khai sinh của người được giám hộ"
    assert "Đăng ký giám hộ" in found[len(in_name) :]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ly lich tu phao", "Cấp Phiếu lý lịch tư pháp"),  # one letter wrong
        ("dang ky ket hno", "Đăng ký kết hôn"),  # two letters swapped
        ("dang ky thuong tru", "Đăng ký thường trú"),
        ("giay phep xay dung nha o", "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ"),
        ("chung thuc ban sao", "Chứng thực bản sao từ bản chính"),
        ("1.001193", "Đăng ký khai sinh"),  # the code itself
        ("driving licence", "Cấp đổi giấy phép lái xe"),  # the English name
    ],
)
async def test_search_tolerates_typos_and_finds_by_code_and_english_name(
    client: httpx.AsyncClient, query: str, expected: str
) -> None:
    assert (await names(client, q=query))[0].startswith(expected)


async def test_filters_narrow_the_list_and_pages_split_it(client: httpx.AsyncClient) -> None:
    body = (await client.get(API, params={"sector": "cu-tru", "level": "ward"})).json()
    assert body["total"] >= 5 and {p["sector"] for p in body["items"]} == {"cu-tru"}
    none = (await client.get(API, params={"online": "none"})).json()
    assert none["total"] >= 1 and {p["online_level"] for p in none["items"]} == {"none"}
    first = (await client.get(API, params={"per_page": 10, "page": 1})).json()
    second = (await client.get(API, params={"per_page": 10, "page": 2})).json()
    assert first["pages"] == second["pages"] >= 4
    assert not {p["code"] for p in first["items"]} & {p["code"] for p in second["items"]}


async def test_a_procedure_shows_documents_fees_today_form_workflow_and_delegation(
    client: httpx.AsyncClient,
) -> None:
    lltp = (await client.get(f"{API}/2.000505.1")).json()
    assert lltp["processing_days"] == 10 and lltp["base_fee"] == 200_000
    assert lltp["competent_unit_name"] == "Sở Tư pháp Thành phố Hà Nội"
    assert lltp["workflow_code"] == "judicial_record" and lltp["min_eid_level"] == 2
    assert lltp["fee_today"]["desk"]["amount"] == 200_000
    assert [r["effect"] for r in lltp["fee_rules"]] == ["free", "free", "amount"]
    assert {d["supplied_by"] for d in lltp["documents"]} == {None, "registry"}
    assert lltp["form_schema"]["type"] == "object" and "muc_dich" in lltp["form_schema"]["required"]
    food = (await client.get(f"{API}/2.000543")).json()
    assert len(food["delegations"]) == 2
    assert food["delegation_in_force"]["unit_name"] == "Ủy ban nhân dân cấp xã"
    assert food["delegation_in_force"]["effective_from"] == "2025-07-01"


async def test_an_unknown_procedure_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/9.999999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "9.999999" in response.json()["detail_en"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sector": "thue"}, "sector"),
        ({"level": "district"}, "level"),
        ({"online": "yes"}, "online"),
        ({"page": "0"}, "page"),
        ({"per_page": "1000"}, "per_page"),
        ({"q": "x" * 201}, "q"),
    ],
)
async def test_bad_query_parameters_are_refused_naming_the_field(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await client.get(API, params=params)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _write(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(service.CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def test_export_then_import_gives_the_same_catalog(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    response = await client.get(f"{API}.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    exported = response.text
    assert len(_rows(exported)) >= 40
    await db.execute(delete(ProcedureDocument))
    await db.execute(delete(Procedure))
    await db.flush()
    assert (await client.get(API)).json()["total"] == 0
    summary = await service.import_procedures(session=db, procedures=service.read_csv(exported))
    await db.flush()
    assert summary.created == len(_rows(exported))
    again = (await client.get(f"{API}.csv")).text
    assert again == exported
    assert (await names(client, q="ly lich tu phap"))[0].startswith("Cấp Phiếu lý lịch tư pháp")


async def test_an_import_updates_a_changed_procedure_and_search_sees_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    rows = _rows((await client.get(f"{API}.csv")).text)
    row = next(r for r in rows if r["code"] == "1.004194")
    row["name"] = "Đăng ký thường trú cho công dân"
    row["processing_days"] = "5"
    summary = await service.import_procedures(
        session=db, procedures=service.read_csv(_write([row]))
    )
    assert (summary.created, summary.updated) == (0, 1)
    detail = (await client.get(f"{API}/1.004194")).json()
    assert detail["name"] == "Đăng ký thường trú cho công dân" and detail["processing_days"] == 5
    assert (await names(client, q="thuong tru cho cong dan"))[
        0
    ] == "Đăng ký thường trú cho công dân"


async def test_an_import_with_one_bad_row_names_every_bad_cell_and_changes_nothing(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    rows = _rows((await client.get(f"{API}.csv")).text)[:4]
    rows[0]["name"] = "Tên mới không được lưu"
    rows[1]["base_fee"] = "hai trăm"
    rows[2]["online_level"] = "sometimes"
    schema = json.loads(rows[3]["form_schema"])
    schema["type"] = "objet"
    rows[3]["form_schema"] = json.dumps(schema)
    new = dict(rows[0], code="9.000001", workflow_code="magic")
    with pytest.raises(DomainError) as caught:
        service.read_csv(_write([*rows, new, dict(rows[0])]))
    fields = [e.field for e in caught.value.errors]
    assert fields == [
        "row 3.base_fee",
        "row 4.online_level",
        "row 5.form_schema",
        "row 6.workflow_code",
        "row 7.code",
    ]
    assert caught.value.status == 422
    assert all(e.message.vi and e.message.en for e in caught.value.errors)
    assert (await client.get(f"{API}/9.000001")).status_code == 404
    assert (await client.get(f"{API}/{rows[0]['code']}")).json()["name"] != "Tên mới không được lưu"


def test_a_file_without_the_catalog_columns_is_refused_naming_them() -> None:
    with pytest.raises(DomainError) as caught:
        service.read_csv("code,name\n1.000001,Thủ tục\n")
    assert "row 1.documents" in [e.field for e in caught.value.errors]
