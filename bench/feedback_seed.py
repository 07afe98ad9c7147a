"""Load N synthetic citizen reports into a PostgreSQL database with COPY (for the report
benchmarks); print the rate.

    python -m bench.feedback_seed --reports 1000000 --keep thudo_bench_feedback

Reports spread over the last 365 days across Hà Nội's 126 wards (denser in the small urban
wards), over the 13 categories, routed by the same rules as filing, most older ones
answered and closed, 1% hidden by moderation. Each row is what `service.file_report`
would have stored (public text redacted, folded search text, grid cell, due date), except
that no history rows are written (the list and duplicate queries do not read them).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import math
import random
import time

import psycopg
from sqlalchemy.engine import make_url

from bench.people import copy_table
from bench.server import machine
from thudo.core.clock import now, to_vn
from thudo.core.db import create_engine, session_factory
from thudo.core.migrate import upgrade
from thudo.core.text import fold
from thudo.feedback import moderation, service
from thudo.feedback.catalog import CATEGORIES, RULES, load_catalog
from thudo.geo.points import city_shape
from thudo.geo.service import load_geography
from thudo.identity.units import load_units

COLUMNS = (
    "code", "category_code", "status", "description", "public_description", "answers",
    "lat", "lon", "cell", "address", "ward_code", "ward_name", "search_text", "channel",
    "open311_client", "reporter_name", "reporter_phone", "unit_code", "unit_name",
    "hidden", "hidden_reason", "public_answer", "followers", "photo_count", "received_at",
    "due_at", "overdue", "resolved_at", "closed_at", "reopen_count", "rating", "created_at",
    "updated_at", "public_listed", "open_flag",
)  # fmt: skip
STREETS = [
    "phố Huế", "phố Bà Triệu", "đường Láng", "phố Chùa Bộc", "đường Giải Phóng", "phố Kim Mã",
    "đường Nguyễn Trãi", "đường Trường Chinh", "phố Thái Hà", "đường Phạm Văn Đồng",
    "phố Hàng Bông", "đường Âu Cơ", "phố Minh Khai", "đường Lê Văn Lương", "phố Xã Đàn",
    "đường Tam Trinh", "phố Ngọc Lâm", "đường Quang Trung", "phố Tô Hiệu", "đường Cầu Giấy",
]  # fmt: skip
WHAT = {
    "moi-truong.rac-thai": ["Rác thải tập kết trên vỉa hè bốc mùi", "Đổ trộm phế thải xây dựng ra lòng đường", "Điểm rác tự phát cạnh chợ không ai thu gom"],
    "moi-truong.o-nhiem": ["Khói đốt rác mỗi tối rất ngột ngạt", "Công trình không che chắn, bụi mù mịt", "Quán karaoke hát quá 23 giờ"],
    "giao-thong.hu-hong-duong": ["Ổ gà lớn giữa đường dễ gây tai nạn", "Nắp hố ga bị vỡ, hố sâu nguy hiểm", "Mặt đường sụt lún sau mưa"],
    "giao-thong.tin-hieu": ["Đèn tín hiệu giao thông không hoạt động", "Biển báo bị cây che khuất", "Đèn đỏ chuyển quá nhanh gây ùn tắc"],
    "chieu-sang": ["Đèn đường không sáng cả đoạn", "Đèn đường sáng cả ban ngày", "Cột đèn nghiêng có nguy cơ đổ"],
    "trat-tu-do-thi.lan-chiem": ["Quán ăn lấn chiếm hết vỉa hè", "Trông giữ xe trái phép trên vỉa hè", "Bày hàng hóa ra lòng đường"],
    "trat-tu-do-thi.xay-dung": ["Nhà đang xây không có biển báo giấy phép", "Cơi nới ban công lấn ra ngoài", "Xây tường rào lấn đất công"],
    "cap-thoat-nuoc.ngap-ung": ["Ngập sâu sau mưa, cống thoát nước tắc", "Nước thải tràn ra đường", "Hố ga bốc mùi, nước đọng lâu ngày"],
    "cap-thoat-nuoc.cap-nuoc": ["Mất nước sinh hoạt nhiều ngày", "Vỡ ống nước, nước chảy tràn", "Nước máy đục có mùi lạ"],
    "cay-xanh": ["Cây cổ thụ nghiêng có nguy cơ đổ", "Cành khô lớn treo lơ lửng trên đường", "Cây đổ chắn ngang đường"],
    "an-ninh-trat-tu": ["Thanh niên tụ tập đua xe lúc nửa đêm", "Có đối tượng nghi trộm cắp xe máy", "Tụ tập cờ bạc gây mất trật tự"],
    "an-toan-thuc-pham": ["Quán ăn chế biến mất vệ sinh", "Bán thực phẩm không rõ nguồn gốc", "Nhiều người đau bụng sau khi ăn"],
    "khac": ["Đề nghị lắp thêm ghế đá ở vườn hoa", "Kiến nghị bố trí thêm thùng rác công cộng", "Đề nghị sửa sân chơi cho trẻ em"],
}  # fmt: skip
TAILS = ["đã nhiều ngày.", "mong phường sớm xử lý.", "ảnh hưởng đến người đi đường.",
         "người dân rất bức xúc.", "đề nghị kiểm tra.", "gọi 0912 345 678 nếu cần thêm thông tin."]  # fmt: skip
ANSWERS = {
    "moi-truong.rac-thai": {"volume": "cart"}, "moi-truong.o-nhiem": {"kind": "dust"},
    "giao-thong.hu-hong-duong": {"size": "medium"}, "trat-tu-do-thi.lan-chiem": {"what": "trade"},
}  # fmt: skip


def _route(rules: dict[tuple[str | None, str | None], str], units: dict[str, str],
           category: str, ward: str) -> tuple[str, str]:  # fmt: skip
    for key in ((category, ward), (None, ward), (category, None), (None, None)):
        template = rules.get(key)
        if template and template.replace("{ward}", ward) in units:
            code = template.replace("{ward}", ward)
            return code, units[code]
    return "HN-VP-UBND", units.get("HN-VP-UBND", "")


def rows(count: int, seed: int, units: dict[str, str]):  # type: ignore[no-untyped-def]
    from thudo.core import calendar

    rng = random.Random(seed)
    shape = city_shape()
    wards = list(shape.wards)
    weights = list(itertools.accumulate(1.0 / math.sqrt(w.area_km2) for w in wards))
    cats = [c["code"] for c in CATEGORIES]
    sla = {c["code"]: float(c["sla_working_days"]) for c in CATEGORIES}
    cat_weights = list(itertools.accumulate([12, 5, 10, 3, 8, 9, 4, 6, 3, 3, 2, 2, 3]))
    rules = {(c, w): u for c, w, u, _ in RULES}
    end = now()
    day = dt.timedelta(days=1)
    stamp = f"{to_vn(end):%y%m%d}"
    due_cache: dict[tuple[str, dt.date], dt.datetime] = {}
    for i in range(count):
        ward = rng.choices(wards, cum_weights=weights)[0]
        r_deg = ward.radius_m / 111_000
        lat = ward.lat + rng.gauss(0, r_deg / 2)
        lon = ward.lon + rng.gauss(0, r_deg / 2)
        category = rng.choices(cats, cum_weights=cat_weights)[0]
        created = end - day * (365 * rng.random())
        text = (f"{rng.choice(WHAT[category])} tại {rng.choice(STREETS)} "
                f"số {rng.randrange(1, 400)}, {rng.choice(TAILS)}")  # fmt: skip
        unit_code, unit_name = _route(rules, units, category, ward.code)
        key = (category, created.date())
        due = due_cache.get(key)
        if due is None:
            due = due_cache[key] = calendar.add_working_days(created, sla[category])
        age = (end - created).days
        roll = rng.random()
        if age > 30:
            status = "closed" if roll < 0.8 else ("resolved" if roll < 0.92 else rng.choice(
                ["not_competent", "duplicate", "in_progress"]))  # fmt: skip
        else:
            status = rng.choice(["received", "assigned", "in_progress", "in_progress",
                                 "resolved", "closed"])  # fmt: skip
        hidden = rng.random() < 0.01
        is_open = status in service.OPEN_STATUSES
        done = None if is_open else created + dt.timedelta(days=rng.uniform(0.2, 6))
        yield (
            f"PA{stamp}B{i:07X}", category, status, text, moderation.redact(text),
            json.dumps(ANSWERS.get(category, {})), round(lat, 6), round(lon, 6),
            service.cell_of(lat, lon), f"{rng.choice(STREETS)}, {ward.name}", ward.code,
            ward.name, fold(text), "open311" if i % 3 else "web", "iHanoi" if i % 3 else None,
            "Người dân", f"09{rng.randrange(10**8):08d}", unit_code, unit_name,
            hidden, "Từ ngữ không phù hợp" if hidden else None,
            None if is_open else "Đơn vị đã kiểm tra và xử lý.", rng.randrange(0, 4), 0,
            created, due, is_open and due < end, done if status in {"resolved", "closed"} else None,
            done if status == "closed" else None, 0,
            rng.randint(3, 5) if status == "closed" else None, created, done or created,
            not hidden, is_open,
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", help="keep the database under this name")
    args = parser.parse_args()
    name = args.keep or f"thudo_bench_feedback_{int(time.time())}"
    admin = make_url(args.server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)

        async def reference() -> dict[str, str]:
            engine = create_engine(url)
            async with session_factory(engine)() as s:
                await load_geography(session=s)
                await load_units(session=s)
                await load_catalog(session=s)
                await s.commit()
                units = await service.unit_names(s)
            await engine.dispose()
            return units

        units = asyncio.run(reference())
        started = time.perf_counter()
        loaded = copy_table(url, "feedback_report", COLUMNS, rows(args.reports, args.seed, units))
        total = time.perf_counter() - started
        print(machine())
        print(f"{args.reports:,} reports loaded in {loaded:.1f} s "
              f"({args.reports / loaded:,.0f}/s); with VACUUM ANALYZE {total:.1f} s; database {name}")  # fmt: skip
    finally:
        if not args.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
