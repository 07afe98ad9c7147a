"""The shared components, as the design-system page shows them: labelled, described, stacked."""

from __future__ import annotations

import httpx

from tests.web.html import Element, parse


async def _design_system(client: httpx.AsyncClient, query: str = "") -> Element:
    response = await client.get("/design-system" + query)
    assert response.status_code == 200
    return parse(response.text)


async def test_every_form_control_has_a_label(client: httpx.AsyncClient) -> None:
    page = await _design_system(client)
    controls = page.find("form").find_all("input") + page.find("form").find_all("select")
    assert len(controls) == 5
    labels = {label.attrs["for"] for label in page.find_all("label")}
    for control in controls:
        assert control.attrs["id"] in labels


async def test_a_field_in_error_is_marked_invalid_and_described_by_its_hint_and_error(
    client: httpx.AsyncClient,
) -> None:
    page = await _design_system(client)
    field = page.by_id("personal_id")
    assert field.attrs["aria-invalid"] == "true"
    described = field.attrs["aria-describedby"].split()
    assert described == ["personal_id-hint", "personal_id-error"]
    assert page.by_id("personal_id-hint").text == "12 chữ số, in trên thẻ căn cước."
    assert page.by_id("personal_id-error").text == (
        "Lỗi: Số định danh cá nhân phải có đúng 12 chữ số."
    )
    summary = page.find("div", class_="error-summary")
    assert summary.attrs["role"] == "alert"
    summary_links = summary.find_all("a")
    assert [a.attrs["href"] for a in summary_links] == ["#personal_id"]


async def test_a_valid_field_is_not_marked_invalid_and_optional_fields_say_so(
    client: httpx.AsyncClient,
) -> None:
    page = await _design_system(client)
    name = page.by_id("full_name")
    assert "aria-invalid" not in name.attrs
    assert "aria-describedby" not in name.attrs
    assert "required" in name.attrs
    phone_label = page.find("label", for_="phone")
    assert "(không bắt buộc)" in phone_label.text
    assert page.by_id("phone").attrs["aria-describedby"] == "phone-hint"


async def test_a_date_field_and_a_select_keep_their_values(client: httpx.AsyncClient) -> None:
    page = await _design_system(client)
    assert page.by_id("birth_date").attrs["type"] == "date"
    assert page.by_id("birth_date").attrs["value"] == "1990-03-27"
    selected = [o for o in page.by_id("sex").find_all("option") if "selected" in o.attrs]
    assert [o.text for o in selected] == ["Nữ"]


async def test_errors_interrupt_and_other_notices_wait(client: httpx.AsyncClient) -> None:
    page = await _design_system(client)
    section = page.find("section", aria_labelledby="ds-alerts")
    roles = {
        alert.find("p").text: alert.attrs["role"]
        for alert in section.find_all("div")
        if "alert" in alert.attrs.get("class", "")
    }
    assert roles == {
        "Thành công: Đã lưu thay đổi": "status",
        "Thông tin: Hồ sơ đang được xử lý": "status",
        "Lưu ý: Sắp hết hạn bổ sung hồ sơ": "status",
        "Lỗi: Không gửi được hồ sơ": "alert",
    }


async def test_table_cells_carry_their_column_name_for_phones(client: httpx.AsyncClient) -> None:
    page = await _design_system(client)
    table = page.find("table")
    headers = [th.text for th in table.find("thead").find_all("th")]
    assert headers == ["Mã", "Phường, xã", "Số dân", "Trạng thái"]
    rows = table.find("tbody").find_all("tr")
    assert len(rows) == 3
    for row in rows:
        cells = row.find_all("th") + row.find_all("td")
        assert [c.attrs["data-label"] for c in cells] == headers
    assert rows[0].find("th").attrs["scope"] == "row"
    assert rows[0].find("td", data_label="Số dân").text == "31.820"


async def test_pagination_marks_the_current_page_and_keeps_the_other_filters(
    client: httpx.AsyncClient,
) -> None:
    page = await _design_system(client, "?page=5&ward=00004")
    nav = page.find("nav", aria_label="Phân trang")
    assert "Trang 5 trên 12" in nav.text
    current = nav.find("a", aria_current="page")
    assert current.text == "5"
    hrefs = {a.attrs.get("rel", a.text): a.attrs["href"] for a in nav.find_all("a")}
    assert hrefs["prev"] == "/design-system?ward=00004&page=4"
    assert hrefs["next"] == "/design-system?ward=00004&page=6"
    assert [a.text for a in nav.find_all("a", **{"class": "pagination-number"})] == [
        "1", "4", "5", "6", "12",
    ]  # fmt: skip


async def test_the_first_and_last_pages_have_no_step_beyond_them(
    client: httpx.AsyncClient,
) -> None:
    first = (await _design_system(client, "?page=1")).find("nav", aria_label="Phân trang")
    assert [a.attrs.get("rel") for a in first.find_all("a") if a.attrs.get("rel")] == ["next"]
    last = (await _design_system(client, "?page=12")).find("nav", aria_label="Phân trang")
    assert [a.attrs.get("rel") for a in last.find_all("a") if a.attrs.get("rel")] == ["prev"]


async def test_a_record_shows_a_dash_for_a_missing_value(client: httpx.AsyncClient) -> None:
    page = await _design_system(client)
    facts = {row.find("dt").text: row.find("dd").text for row in page.find("dl").find_all("div")}
    assert facts["Mã hồ sơ"] == "H01.2026.000123"
    assert facts["Trạng thái"] == "Đang xử lý"
    assert facts["Ghi chú"] == "—"


async def test_breadcrumbs_end_at_the_current_page(client: httpx.AsyncClient) -> None:
    page = await _design_system(client)
    crumbs = page.find("nav", aria_label="Đường dẫn").find_all("li")
    assert crumbs[0].find("a").attrs["href"] == "/"
    assert crumbs[-1].find("span").attrs["aria-current"] == "page"
    assert crumbs[-1].text == "Hệ thống giao diện"


async def test_the_htmx_fragment_is_a_notice_in_the_chosen_language(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/design-system/notice?lang=en", headers={"HX-Request": "true"})
    fragment = parse(response.text)
    assert fragment.find_all("html") == []
    assert fragment.find("div", role="status").text == "Success: HTMX is working " + (
        "The server sent this paragraph and it was inserted without reloading the page."
    )
