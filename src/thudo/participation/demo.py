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


# (constituency, field, content, agency, days since meeting, answer or None, published)
DEMO_PETITIONS: list[tuple[Any, ...]] = [
    ("Đơn vị bầu cử số 1 (phường Hoàn Kiếm, Cửa Nam)", "urban",
     "Cử tri đề nghị Thành phố sớm có phương án cải tạo các khu chung cư cũ xuống cấp trên "
     "địa bàn, bảo đảm an toàn cho người dân.", "HN-SXD", 120,
     "Sở Xây dựng đã rà soát, đưa 12 khu chung cư cũ vào kế hoạch cải tạo giai đoạn "
     "2026–2030 và công bố danh mục trên cổng thông tin của Sở.", True),
    ("Đơn vị bầu cử số 4 (phường Đống Đa, Kim Liên)", "transport",
     "Cử tri phản ánh ùn tắc giao thông kéo dài tại nút giao Kim Liên – Xã Đàn giờ cao "
     "điểm, đề nghị tổ chức lại giao thông.", "HN-SXD", 90,
     "Sở Xây dựng đã điều chỉnh chu kỳ đèn tín hiệu và bổ sung biển chỉ dẫn từ tháng 9/2026; "
     "tình trạng ùn tắc giờ cao điểm giảm rõ.", True),
    ("Đơn vị bầu cử số 7 (xã Sóc Sơn, Đa Phúc)", "land",
     "Cử tri đề nghị đẩy nhanh việc cấp giấy chứng nhận quyền sử dụng đất cho các hộ "
     "đã sử dụng đất ổn định trước năm 2004.", "HN-SNNMT", 75,
     "Sở Nông nghiệp và Môi trường đã hướng dẫn UBND xã rà soát hồ sơ; 318 giấy chứng nhận "
     "đã được cấp trong quý III/2026.", True),
    ("Đơn vị bầu cử số 2 (phường Ba Đình, Ngọc Hà)", "social",
     "Cử tri đề nghị bổ sung trường mầm non công lập tại khu đô thị mới do sĩ số lớp quá đông.",
     "HN-SGDDT", 60, None, False),
    ("Đơn vị bầu cử số 9 (phường Hà Đông, Dương Nội)", "admin",
     "Cử tri đề nghị giảm thời gian giải quyết thủ tục đăng ký thường trú khi nộp hồ sơ "
     "trực tuyến.", "HN-CATP", 100, None, False),
    ("Đơn vị bầu cử số 5 (phường Hoàng Mai, Định Công)", "land",
     "Cử tri đề nghị xử lý dứt điểm tình trạng ô nhiễm mùi từ sông Tô Lịch đoạn qua phường.",
     "HN-SNNMT", 45,
     "Sở đã chỉ đạo vận hành trạm xử lý nước thải Yên Xá giai đoạn 1, dự kiến hoàn thành "
     "giai đoạn 2 trong năm 2027.", False),
]  # fmt: skip
DEMO_RESOLUTIONS: list[tuple[Any, ...]] = [
    ("resolution", "12/NQ-HĐND",
     "Nghị quyết về một số chính sách hỗ trợ phân loại chất thải rắn sinh hoạt tại nguồn",
     "Kỳ họp thứ 19", 150,
     [("Cấp thùng chứa rác phân loại cho các hộ gia đình ở khu vực nội đô", "HN-SNNMT", 60,
       ("in_progress", 65, "Đã cấp thùng cho 74 phường, còn 12 phường."))]),
    ("conclusion", "05/KL-HĐND",
     "Kết luận phiên chất vấn về quản lý trật tự xây dựng và cải tạo chung cư cũ",
     "Kỳ họp thứ 18", 220,
     [("Công bố danh mục chung cư cũ nguy hiểm cấp D", "HN-SXD", -30,
       ("done", 100, "Đã công bố danh mục trên cổng thông tin của Sở.")),
      ("Hoàn thành kiểm định 100% chung cư cũ trên địa bàn", "HN-SXD", -5, None),
      ("Xử lý dứt điểm các công trình vi phạm trật tự xây dựng kéo dài", "HN-SXD", 120, None)]),
]  # fmt: skip


async def ensure_demo_council(*, session: AsyncSession) -> tuple[int, int]:
    """Demo petitions and resolutions of the 2021–2026 term, once (by content / number)."""
    from thudo.participation import council
    from thudo.participation.models import Petition, Resolution

    made_p = made_r = 0
    clerk = Actor(kind="system", id="seed", name="Văn phòng Đoàn ĐBQH và HĐND Thành phố")
    for constituency, field, content, agency, days, answer, published in DEMO_PETITIONS:
        if await session.scalar(select(Petition.id).where(Petition.content == content)):
            continue
        meeting_day = today_vn() - dt.timedelta(days=days)
        p = await council.create_petition(
            session, actor=clerk,
            data=council.PetitionDraft(
                term=council.CURRENT_TERM, meeting="Tiếp xúc cử tri sau kỳ họp thứ 19",
                meeting_date=meeting_day, constituency=constituency, field=field, content=content,
            ),
        )  # fmt: skip
        await council.assign(session, petition=p, agency_code=agency,
                             deadline=meeting_day + dt.timedelta(days=60))  # fmt: skip
        if answer:
            unit = await unit_by_code(session, agency)
            await council.answer(session, actor=Actor(kind="system", id="seed", name=unit.name),
                                 petition=p, text=answer)  # fmt: skip
        if published:
            await council.publish(session, petition=p)
        made_p += 1
    for kind, number, title, session_name, days, commitments in DEMO_RESOLUTIONS:
        if await session.scalar(select(Resolution.id).where(Resolution.number == number)):
            continue
        r = await council.create_resolution(
            session, actor=clerk,
            data=council.ResolutionDraft(
                term=council.CURRENT_TERM, kind=kind, number=number, title=title,
                session_name=session_name, adopted_on=today_vn() - dt.timedelta(days=days),
            ),
        )  # fmt: skip
        for content, agency, due_in, progress in commitments:
            c = await council.add_commitment(
                session, resolution=r, content=content, agency_code=agency,
                deadline=today_vn() + dt.timedelta(days=due_in),
            )  # fmt: skip
            if progress:
                status, percent, text = progress
                unit = await unit_by_code(session, agency)
                await council.report_progress(
                    session, actor=Actor(kind="system", id="seed", name=unit.name),
                    commitment=c, text=text, status=status, percent=percent,
                )  # fmt: skip
        made_r += 1
    await session.flush()
    return made_p, made_r
