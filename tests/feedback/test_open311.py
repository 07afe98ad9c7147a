"""Open311 GeoReport v2, exercised as a third-party client would: plain HTTP, JSON parsed
with json and XML with ElementTree, the shapes the specification shows."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.feedback.conftest import HOAN_KIEM_POINT, SAIGON_POINT
from thudo.core.clock import now
from thudo.feedback.models import ApiKey, Moderation, Report, ReportEvent
from thudo.feedback.open311 import issue_key, key_hash

BASE = "/open311/v2"


@pytest.fixture
def client(
    deployed: tuple[httpx.AsyncClient, AsyncSession] | None, client: httpx.AsyncClient
) -> httpx.AsyncClient:
    """Every test here on both paths: sessions, and PostgreSQL's asyncpg hot pool."""
    return deployed[0] if deployed else client


@pytest.fixture
def db(deployed: tuple[httpx.AsyncClient, AsyncSession] | None, db: AsyncSession) -> AsyncSession:
    return deployed[1] if deployed else db


@pytest.fixture
async def api_key(db: AsyncSession) -> str:
    _, key = await issue_key(db, name="Ứng dụng đối tác thử nghiệm")
    await db.commit()
    return key


def _xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b"<?xml")
    return ET.fromstring(response.content)


async def _post(client: httpx.AsyncClient, fmt: str, key: str, **extra: str) -> httpx.Response:
    data = {
        "api_key": key, "service_code": "chieu-sang",
        "lat": str(HOAN_KIEM_POINT[0]), "long": str(HOAN_KIEM_POINT[1]),
        "address_string": "Phố Đinh Tiên Hoàng, cạnh Hồ Gươm",
        "description": "Ba cột đèn liền nhau không sáng từ tối hôm qua, rất tối.",
        "first_name": "Lan", "last_name": "Nguyễn", "phone": "0912000111", "email": "lan@example.vn",
        "attribute[exposed]": "false", **extra,
    }  # fmt: skip
    return await client.post(f"{BASE}/requests.{fmt}", data=data)


async def test_services_list_in_json_and_xml(client: httpx.AsyncClient) -> None:
    services = (await client.get(f"{BASE}/services.json")).json()
    by_code = {s["service_code"]: s for s in services}
    assert set(services[0]) == {
        "service_code", "service_name", "description", "metadata", "type", "keywords", "group"
    }  # fmt: skip
    assert by_code["chieu-sang"]["service_name"] == "Chiếu sáng công cộng"
    assert by_code["chieu-sang"]["metadata"] is True and by_code["khac"]["metadata"] is False
    assert by_code["chieu-sang"]["type"] == "realtime"
    root = _xml(await client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    items = root.findall("service")
    assert len(items) == len(services)
    first = items[0]
    assert first.findtext("service_code") == services[0]["service_code"]
    assert first.findtext("metadata") in {"true", "false"}
    english = (await client.get(f"{BASE}/services.json", headers={"Accept-Language": "en"})).json()
    assert {s["service_name"] for s in english} >= {"Street lighting"}


async def test_service_definition_lists_the_category_questions(client: httpx.AsyncClient) -> None:
    definition = (await client.get(f"{BASE}/services/giao-thong.hu-hong-duong.json")).json()
    assert definition["service_code"] == "giao-thong.hu-hong-duong"
    size = definition["attributes"][0]
    assert size["code"] == "size" and size["datatype"] == "singlevaluelist"
    assert size["required"] is True and size["variable"] is True and size["order"] == 1
    assert {v["key"] for v in size["values"]} == {"small", "medium", "large"}
    root = _xml(await client.get(f"{BASE}/services/giao-thong.hu-hong-duong.xml"))
    assert root.tag == "service_definition"
    attribute = root.find("attributes/attribute")
    assert attribute is not None and attribute.findtext("code") == "size"
    assert [v.findtext("key") for v in attribute.findall("values/value")] == [
        "small",
        "medium",
        "large",
    ]
    missing = await client.get(f"{BASE}/services/khong-co.xml")
    assert missing.status_code == 404
    error = _xml(missing)
    assert error.tag == "errors" and error.findtext("error/code") == "404"


async def test_a_client_posts_a_request_and_reads_it_back_in_both_formats(
    client: httpx.AsyncClient, api_key: str
) -> None:
    created = await _post(client, "json", api_key)
    assert created.status_code == 201, created.text
    [answer] = created.json()
    request_id, token = answer["service_request_id"], answer["token"]
    assert request_id.startswith("PA") and "service_notice" in answer and "account_id" in answer
    [one] = (await client.get(f"{BASE}/requests/{request_id}.json")).json()
    assert one["service_request_id"] == request_id
    assert one["status"] == "open" and one["service_code"] == "chieu-sang"
    assert one["agency_responsible"] == "Sở Xây dựng"
    assert one["lat"] == pytest.approx(HOAN_KIEM_POINT[0]) and one["long"] == pytest.approx(
        HOAN_KIEM_POINT[1]
    )
    assert one["requested_datetime"].endswith("+07:00") and one["expected_datetime"]
    assert (
        "0912000111" not in str(one) and "lan@example.vn" not in str(one) and "Lan" not in str(one)
    )
    root = _xml(await client.get(f"{BASE}/requests/{request_id}.xml"))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == request_id
    assert root.findtext("request/status") == "open"
    assert root.find("request/media_url") is not None
    [tok] = (await client.get(f"{BASE}/tokens/{token}.json")).json()
    assert tok == {"service_request_id": request_id, "token": token}
    tok_xml = _xml(await client.get(f"{BASE}/tokens/{token}.xml"))
    assert tok_xml.findtext("request/service_request_id") == request_id
    created_xml = await _post(client, "xml", api_key)
    assert created_xml.status_code == 201
    assert _xml(created_xml).findtext("request/service_request_id", "").startswith("PA")


async def test_requests_are_filtered_and_paged_as_the_standard_asks(
    client: httpx.AsyncClient, api_key: str
) -> None:
    ids = []
    for _ in range(3):
        [answer] = (await _post(client, "json", api_key)).json()
        ids.append(answer["service_request_id"])
    other = (await _post(client, "json", api_key, service_code="khac")).json()[0]
    lighting = (await client.get(f"{BASE}/requests.json", params={"service_code": "chieu-sang",
                                                                    "page_size": 1000})).json()  # fmt: skip
    got = {r["service_request_id"] for r in lighting}
    assert set(ids) <= got and other["service_request_id"] not in got
    by_id = (await client.get(f"{BASE}/requests.json", params={
        "service_request_id": f"{ids[0]},{other['service_request_id']}", "service_code": "chieu-sang"})).json()  # fmt: skip
    assert {r["service_request_id"] for r in by_id} == {ids[0], other["service_request_id"]}
    page1 = (await client.get(f"{BASE}/requests.json", params={"page_size": 2, "page": 1})).json()
    page2 = (await client.get(f"{BASE}/requests.json", params={"page_size": 2, "page": 2})).json()
    assert len(page1) == 2 and len(page2) >= 2
    assert not {r["service_request_id"] for r in page1} & {r["service_request_id"] for r in page2}
    closed = (await client.get(f"{BASE}/requests.json", params={"status": "closed"})).json()
    assert all(r["status"] == "closed" for r in closed)
    assert not {r["service_request_id"] for r in closed} & set(ids)
    future = (await client.get(f"{BASE}/requests.json",
                               params={"start_date": "2099-01-01T00:00:00+07:00"})).json()  # fmt: skip
    assert future == []
    window = (await client.get(f"{BASE}/requests.xml", params={
        "start_date": "2000-01-01T00:00:00Z", "end_date": "2099-01-01T00:00:00Z", "status": "open,closed"}))  # fmt: skip
    assert _xml(window).tag == "service_requests"
    bad = await client.get(f"{BASE}/requests.json", params={"start_date": "hôm qua"})
    assert bad.status_code == 400 and bad.json()[0]["code"] == 400


async def test_posting_without_a_valid_key_or_outside_the_city_gives_the_error_list(
    client: httpx.AsyncClient, api_key: str
) -> None:
    wrong = await _post(client, "json", "o311_not-a-key")
    assert wrong.status_code == 403
    assert wrong.json() == [{"code": 403, "description":
                             "Invalid api_key received -- can't proceed with create_request."}]  # fmt: skip
    wrong_xml = _xml(await _post(client, "xml", ""))
    assert wrong_xml.tag == "errors" and wrong_xml.findtext("error/code") == "400"
    outside = await _post(
        client, "json", api_key, lat=str(SAIGON_POINT[0]), long=str(SAIGON_POINT[1])
    )
    assert outside.status_code == 422
    assert "Hà Nội" in outside.json()[0]["description"]
    outside_xml = _xml(await _post(client, "xml", api_key, lat=str(SAIGON_POINT[0]),
                                   long=str(SAIGON_POINT[1])))  # fmt: skip
    assert outside_xml.findtext("error/code") == "422"
    unknown = await _post(client, "json", api_key, service_code="khong-co")
    assert unknown.status_code == 400
    no_where = await _post(client, "json", api_key, lat="", long="", address_string="")
    assert no_where.status_code == 400
    missing = await client.get(f"{BASE}/requests/PA000000XXXXXXXX.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404
    bad_format = await client.get(f"{BASE}/services.csv")
    assert bad_format.status_code == 404


async def test_a_posted_request_is_stored_with_its_history_moderation_and_the_key_marked_used(
    client: httpx.AsyncClient, db: AsyncSession, api_key: str
) -> None:
    text = "Đèn tắt cả đoạn, gọi tôi 0912 345 678 nhé. Bọn thằng chó nào đập vỡ bóng đèn."
    created = await _post(client, "json", api_key, description=text)
    assert created.status_code == 201, created.text
    [answer] = created.json()
    assert answer["service_notice"].startswith("Đã tiếp nhận, Sở Xây dựng xử lý; hạn trả lời ")
    r = await db.scalar(select(Report).where(Report.code == answer["service_request_id"]))
    assert r is not None and r.open311_token == answer["token"]
    assert (r.status, r.channel, r.open311_client) == (
        "received",
        "open311",
        "Ứng dụng đối tác thử nghiệm",
    )
    assert (r.ward_code, r.unit_code, r.reporter_name, r.reporter_phone, r.reporter_email) == (
        "00070", "HN-SXD", "Lan Nguyễn", "0912000111", "lan@example.vn")  # fmt: skip
    assert r.answers == {"exposed": False} and r.cell is not None and r.due_at is not None
    assert r.description == text and "0912 345 678" not in r.public_description
    assert r.hidden and not r.public_listed and r.open_flag
    [event] = list(await db.scalars(select(ReportEvent).where(ReportEvent.report_id == r.id)))
    assert (event.kind, event.to_status, event.unit_code, event.actor_ref, event.public) == (
        "received", "received", "HN-SXD", "open311:Ứng dụng đối tác thử nghiệm", True)  # fmt: skip
    assert event.public_note and event.public_note.startswith("Đã tiếp nhận, chuyển Sở Xây dựng")
    actions = list(await db.scalars(select(Moderation.action).where(Moderation.report_id == r.id)
                                    .order_by(Moderation.id)))  # fmt: skip
    assert actions == ["redacted", "hidden"]
    key = await db.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash(api_key)))
    assert key is not None and key.last_used_at is not None
    hidden = await client.get(f"{BASE}/requests/{r.code}.json")
    assert hidden.status_code == 404  # abusive: hidden from the public until moderated


async def test_bad_input_is_refused_with_the_field_and_nothing_is_stored(
    client: httpx.AsyncClient, db: AsyncSession, api_key: str
) -> None:
    async def count() -> int:
        return int(await db.scalar(select(func.count()).select_from(Report)) or 0)

    before = await count()
    short = await _post(client, "json", api_key, description="Tối")
    assert short.status_code == 422
    assert short.json()[0]["description"].startswith("description: ")
    road = await _post(client, "json", api_key, service_code="giao-thong.hu-hong-duong")
    assert road.status_code == 422 and road.json()[0]["description"].startswith("answers.size: ")
    english = await client.post(f"{BASE}/requests.json", headers={"Accept-Language": "en"}, data={
        "api_key": api_key, "service_code": "khac", "lat": "21.0287", "long": "105.8524",
        "description": "Ngắn"})  # fmt: skip
    assert english.json() == [{"code": 422, "description":
                               "description: Describe what happened (at least 10 characters)."}]  # fmt: skip
    not_a_number = await _post(client, "xml", api_key, lat="hai mươi mốt")
    assert not_a_number.status_code == 400
    assert _xml(not_a_number).findtext("error/description") == "lat must be a number"
    # The key is checked first: a wrong key with bad input is still refused as a wrong key.
    wrong_and_short = await _post(client, "json", "o311_not-a-key", description="Tối")
    assert wrong_and_short.status_code == 403
    _, revoked = await issue_key(db, name="Đối tác đã thu hồi")
    await db.execute(update(ApiKey).where(ApiKey.key_hash == key_hash(revoked))
                     .values(revoked_at=now()))  # fmt: skip
    await db.commit()
    assert (await _post(client, "json", revoked)).status_code == 403
    assert await count() == before


async def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer_and_no_second_report(
    client: httpx.AsyncClient, db: AsyncSession, api_key: str
) -> None:
    async def post(key: str, fmt: str = "json", **extra: str) -> httpx.Response:
        data = {
            "api_key": api_key, "service_code": "khac", "lat": str(HOAN_KIEM_POINT[0]),
            "long": str(HOAN_KIEM_POINT[1]), "description": "Vỉa hè bị đào bới không hoàn trả.",
            **extra,
        }  # fmt: skip
        return await client.post(f"{BASE}/requests.{fmt}", data=data,
                                 headers={"Idempotency-Key": key})  # fmt: skip

    first = await post("lan-2026-0001")
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    again = await post("lan-2026-0001")
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    in_xml = _xml(await post("lan-2026-0001", "xml"))
    assert in_xml.findtext("request/service_request_id") == first.json()[0]["service_request_id"]
    stored = await db.scalar(select(func.count()).select_from(Report).where(
        Report.open311_token == first.json()[0]["token"]))  # fmt: skip
    codes = await db.scalars(select(Report.code).where(Report.description.contains("đào bới")))
    assert stored == 1 and list(codes) == [first.json()[0]["service_request_id"]]
    other_body = await post("lan-2026-0001", description="Một phản ánh khác hẳn, cây đổ chắn lối.")
    assert other_body.status_code == 422
    assert other_body.json()[0]["description"].startswith("Idempotency-Key: ")
    other_and_bad = await post("lan-2026-0001", description="Ngắn")
    assert other_and_bad.status_code == 422
    assert other_and_bad.json()[0]["description"].startswith("Idempotency-Key: ")
    fresh = await post("lan-2026-0002")
    assert fresh.status_code == 201
    assert fresh.json()[0]["service_request_id"] != first.json()[0]["service_request_id"]
    too_long = await post("x" * 256)
    assert too_long.status_code == 422
    assert too_long.json()[0]["description"].startswith("Idempotency-Key: ")
    _, other_key = await issue_key(db, name="Đối tác thứ hai")
    await db.commit()
    theirs = await client.post(f"{BASE}/requests.json", headers={"Idempotency-Key": "lan-2026-0001"},
                               data={"api_key": other_key, "service_code": "khac",
                                     "lat": str(HOAN_KIEM_POINT[0]), "long": str(HOAN_KIEM_POINT[1]),
                                     "description": "Vỉa hè bị đào bới không hoàn trả."})  # fmt: skip
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
