"""Citizen pages of the catalog: search with filters, and one procedure with today's fees."""

from __future__ import annotations

import httpx

from tests.web.html import parse


async def test_the_catalog_page_finds_judicial_record_certificates_without_diacritics(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/thu-tuc", params={"q": "ly lich tu phap"})
    assert response.status_code == 200
    page = parse(response.text)
    assert page.find("h1").text == "Thủ tục hành chính"
    titles = [h.text for h in page.find_all("h3")]
    assert titles[0].startswith("Cấp Phiếu lý lịch tư pháp số")
    assert page.find("p", class_="results-count").text.startswith("Tìm thấy")
    assert page.find("input", id="q").attrs["value"] == "ly lich tu phap"


async def test_the_catalog_page_filters_by_sector_and_says_when_nothing_matches(
    client: httpx.AsyncClient,
) -> None:
    page = parse((await client.get("/thu-tuc", params={"sector": "cu-tru"})).text)
    assert "Đăng ký thường trú" in [h.text for h in page.find_all("h3")]
    assert "Đăng ký khai sinh" not in [h.text for h in page.find_all("h3")]
    empty = parse((await client.get("/thu-tuc", params={"q": "zzzz qqqq"})).text)
    assert "Không tìm thấy thủ tục nào" in empty.text


async def test_a_procedure_page_shows_fees_today_documents_and_the_delegated_unit(
    client: httpx.AsyncClient,
) -> None:
    page = parse((await client.get("/thu-tuc/2.000543")).text)
    assert page.find("h1").text.startswith("Cấp Giấy chứng nhận cơ sở đủ điều kiện an toàn")
    text = page.text
    assert "Cơ quan được ủy quyền giải quyết" in text and "3512/QĐ-UBND" in text
    assert "20 ngày làm việc" in text
    assert "700.000 đồng" in text
    lltp = parse((await client.get("/thu-tuc/2.000505.1")).text).text
    assert "200.000 đồng" in lltp and "Sở Tư pháp Thành phố Hà Nội" in lltp
    assert "Lấy từ Cơ sở dữ liệu dân cư" in lltp
    assert "100.000 đồng" in lltp  # the students' rule, in words


async def test_the_pages_speak_english_when_asked(client: httpx.AsyncClient) -> None:
    page = parse((await client.get("/thu-tuc/1.001193", params={"lang": "en"})).text)
    assert page.find("h1").text == "Birth registration"
    assert "Processing time" in page.text and "1 working day" in page.text
    listing = parse((await client.get("/thu-tuc", params={"lang": "en", "q": "khai sinh"})).text)
    assert listing.find("h1").text == "Administrative procedures"


async def test_an_unknown_procedure_page_is_a_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/thu-tuc/9.999999", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
