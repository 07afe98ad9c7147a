"""Demo participation data for a synthetic city (never in production): two open surveys, a
closed one with responses from demo citizens, and the demo staff member's roles."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from thudo.core.clock import VN_TZ, now, today_vn
from thudo.identity.deps import Actor
from thudo.identity.models import Account
from thudo.identity.permissions import Role
from thudo.identity.staff import grant_role, unit_by_code
from thudo.identity.staff_demo import DEMO_STAFF_PHONE
from thudo.identity.units import COUNCIL_OFFICE_CODE, ward_committee_code
from thudo.participation import service
from thudo.participation.models import Answer, Response, Survey
from thudo.registry.models import Citizen

SEED_ACTOR = Actor(kind="system", id="seed", name="Dữ liệu mẫu", scopes=frozenset({"*"}))

Q = service.QuestionDraft
DEMO_SURVEYS: list[dict[str, Any]] = [
    {
        "title": "Mức độ hài lòng với dịch vụ công trực tuyến của Thành phố năm 2026",
        "description": "Sở Nội vụ lấy ý kiến người dân đã sử dụng dịch vụ công trực tuyến để "
        "cải thiện chất lượng phục vụ. Phiếu gồm 5 câu, mất khoảng 3 phút.",
        "unit": "HN-SNV",
        "opens": -3,
        "days": 30,
        "audience": {"audience_min_age": 18},
        "questions": [
            Q("single", "Trong 12 tháng qua, bạn đã nộp hồ sơ trực tuyến bao nhiêu lần?",
              options=["Chưa lần nào", "1–2 lần", "3–5 lần", "Trên 5 lần"]),
            Q("multiple", "Bạn gặp khó khăn nào khi nộp hồ sơ trực tuyến?", required=False,
              options=["Đăng nhập bằng định danh điện tử", "Điền tờ khai", "Tải giấy tờ đính kèm",
                       "Thanh toán phí, lệ phí", "Theo dõi tiến độ", "Không gặp khó khăn"]),
            Q("scale", "Bạn hài lòng thế nào với thời gian giải quyết hồ sơ?", scale_min=1,
              scale_max=5, options=["Rất không hài lòng", "Rất hài lòng"]),
            Q("scale", "Bạn đánh giá thái độ hướng dẫn của cán bộ thế nào?", scale_min=1,
              scale_max=5, options=["Rất kém", "Rất tốt"]),
            Q("text", "Bạn có góp ý gì để dịch vụ công trực tuyến tốt hơn?", required=False),
        ],
    },
    {
        "title": "Lấy ý kiến người dân về phân loại rác thải sinh hoạt tại nguồn",
        "description": "Từ năm 2026, hộ gia đình tại Hà Nội phân loại rác thành rác hữu cơ, rác "
        "tái chế và rác còn lại. Sở Nông nghiệp và Môi trường muốn biết việc phân loại tại "
        "nhà bạn đang diễn ra thế nào.",
        "unit": "HN-SNNMT",
        "opens": -1,
        "days": 21,
        "audience": {},
        "questions": [
            Q("single", "Gia đình bạn đã phân loại rác tại nhà chưa?",
              options=["Đã phân loại thường xuyên", "Thỉnh thoảng", "Chưa phân loại"]),
            Q("multiple", "Điều gì khiến việc phân loại rác khó khăn?", required=False,
              options=["Thiếu thùng chứa riêng", "Giờ thu gom không phù hợp",
                       "Chưa rõ cách phân loại", "Rác bị đổ chung khi thu gom"]),
            Q("scale", "Bạn sẵn sàng phân loại rác ở mức nào nếu được hỗ trợ thùng chứa?",
              scale_min=1, scale_max=5, options=["Không sẵn sàng", "Rất sẵn sàng"]),
            Q("text", "Đề xuất của bạn với phường, xã nơi bạn ở", required=False),
        ],
    },
    {
        "title": "Khảo sát giờ làm việc của Bộ phận một cửa vào sáng thứ Bảy",
        "description": "Trung tâm Phục vụ hành chính công hỏi ý kiến về việc mở cửa sáng thứ "
        "Bảy tại các chi nhánh phường, xã.",
        "unit": "HN-HCC",
        "opens": -40,
        "days": 30,
        "audience": {},
        "responses": 240,
        "questions": [
            Q("single", "Bạn có cần làm thủ tục vào sáng thứ Bảy không?",
              options=["Có, thường xuyên", "Thỉnh thoảng", "Không cần"]),
            Q("scale", "Mức độ ủng hộ việc mở cửa sáng thứ Bảy", scale_min=1, scale_max=5,
              options=["Không ủng hộ", "Rất ủng hộ"]),
            Q("text", "Ý kiến khác", required=False),
        ],
    },
]  # fmt: skip
COMMENTS = [
    "Nên mở thêm buổi chiều thứ Bảy.",
    "Cần thêm chỗ để xe máy ở chi nhánh phường.",
    "Mở cửa sáng thứ Bảy rất tiện cho người đi làm.",
]


async def ensure_demo_surveys(*, session: AsyncSession, seed: int = 6) -> int:
    """The demo surveys, once each (by title); returns how many were created."""
    made = 0
    for spec in DEMO_SURVEYS:
        title = str(spec["title"])
        if await session.scalar(select(Survey.id).where(Survey.title == title)):
            continue
        start = dt.datetime.combine(
            today_vn() + dt.timedelta(days=int(spec["opens"])),
            dt.time(),
            VN_TZ,
        )
        closes = start + dt.timedelta(days=int(spec["days"]))
        survey = Survey(
            title=title, description=str(spec["description"]),
            unit_id=(await unit_by_code(session, str(spec["unit"]))).id,
            opens_at=start, closes_at=closes, audience_level2=False,
            created_by=SEED_ACTOR.ref, created_by_name=SEED_ACTOR.name,
            created_at=now(), updated_at=now(),
            **spec["audience"],
        )  # fmt: skip
        session.add(survey)
        await session.flush()
        for q in spec["questions"]:
            await service.add_question(session, survey=survey, data=q)
        survey.published_at = start
        await _answer_as_demo_citizens(session, survey, int(spec.get("responses", 0)), seed)
        if survey.closes_at <= now():
            survey.results_published_at = survey.closes_at
        made += 1
    await session.flush()
    return made


async def _answer_as_demo_citizens(
    session: AsyncSession, survey: Survey, count: int, seed: int
) -> None:
    """Responses from living adults of the demo city, their answers drawn at random."""
    if not count:
        return
    rng = random.Random(seed)
    people = list(
        await session.scalars(
            select(Citizen.personal_id)
            .where(Citizen.status == "alive", Citizen.birth_date < dt.date(2008, 1, 1))
            .order_by(Citizen.personal_id)
            .limit(count)
        )
    )
    qs = await service.questions(session, survey.id)
    span = (survey.closes_at - survey.opens_at).total_seconds()
    for personal_id in people:
        response = Response(
            survey_id=survey.id,
            personal_id=personal_id,
            submitted_at=survey.opens_at + dt.timedelta(seconds=rng.uniform(0, span)),
        )
        session.add(response)
        await session.flush()
        for q in qs:
            if q.kind == "single":
                value = rng.choices(range(len(q.options)), weights=[5, 3, 2][: len(q.options)])[0]
                session.add(Answer(response_id=response.id, survey_id=survey.id,
                                   question_id=q.id, value=value))  # fmt: skip
            elif q.kind == "scale":
                assert q.scale_min is not None and q.scale_max is not None
                points = list(range(q.scale_min, q.scale_max + 1))
                value = rng.choices(points, weights=[1, 1, 2, 4, 5][: len(points)])[0]
                session.add(Answer(response_id=response.id, survey_id=survey.id,
                                   question_id=q.id, value=value))  # fmt: skip
            elif rng.random() < 0.15:
                session.add(Answer(response_id=response.id, survey_id=survey.id,
                                   question_id=q.id, text=rng.choice(COMMENTS)))  # fmt: skip
    await session.flush()


async def ensure_demo_roles(*, session: AsyncSession) -> list[str]:
    """The demo staff member also edits surveys of her ward, clerks for the People's
    Council office and answers petitions for the Department of Construction."""
    account = await session.scalar(select(Account).where(Account.phone == DEMO_STAFF_PHONE))
    if account is None:
        return []
    citizen = await session.get(Citizen, account.personal_id)
    assert citizen is not None
    grants = [
        (Role.SURVEY_EDITOR, ward_committee_code(citizen.permanent_ward_code)),
        (Role.COUNCIL_CLERK, COUNCIL_OFFICE_CODE),
        (Role.COUNCIL_RESPONDER, "HN-SXD"),
    ]
    for role, code in grants:
        unit = await unit_by_code(session, code)
        await grant_role(session=session, account=account, role=role, unit=unit, granted_by="seed")
    return [f"{role.value}@{code}" for role, code in grants]
