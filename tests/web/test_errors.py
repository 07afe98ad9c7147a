"""A person in a browser gets an error page in her language; API clients keep problem+json."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.web.html import parse
from thudo.core.errors import not_found

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_a_missing_page_is_a_vietnamese_html_page_for_a_browser(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/khong-co-trang-nay", headers=BROWSER)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    page = parse(response.text)
    assert page.find("html").attrs["lang"] == "vi"
    assert page.find("h1").text == "Không tìm thấy trang"
    assert {a.attrs["href"] for a in page.find("main").find_all("a")} >= {"/"}


async def test_a_missing_page_follows_the_chosen_language(client: httpx.AsyncClient) -> None:
    response = await client.get("/no-such-page?lang=en", headers=BROWSER)
    assert response.status_code == 404
    page = parse(response.text)
    assert page.find("html").attrs["lang"] == "en"
    assert page.find("h1").text == "Page not found"


async def test_api_paths_answer_problem_json_even_to_a_browser(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/no-such-thing", headers=BROWSER)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Không tìm thấy"


async def test_a_client_that_does_not_ask_for_html_gets_problem_json(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_domain_error_on_a_page_shows_its_own_explanation(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def citizen_page(personal_id: str) -> None:
        raise not_found("công dân", "citizen", personal_id)

    app.add_api_route("/test-citizen/{personal_id}", citizen_page)
    response = await client.get("/test-citizen/001090000001", headers=BROWSER)
    assert response.status_code == 404
    page = parse(response.text)
    assert page.find("h1").text == "Không tìm thấy trang"
    assert "Không tìm thấy công dân 001090000001." in page.find("main").text


async def test_a_failure_is_a_calm_html_page_for_a_browser_and_problem_json_for_the_api(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def broken() -> None:
        raise RuntimeError("the disk is on fire")

    app.add_api_route("/test-broken", broken)
    app.add_api_route("/api/v1/test-broken", broken)

    response = await client.get("/test-broken", headers=BROWSER)
    assert response.status_code == 500
    page = parse(response.text)
    assert page.find("h1").text == "Xin lỗi, hệ thống đang gặp sự cố"
    assert "chưa bị thay đổi" in page.find("main").text
    assert "the disk is on fire" not in response.text

    api = await client.get("/api/v1/test-broken", headers=BROWSER)
    assert api.status_code == 500
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["title_en"] == "Internal error"
