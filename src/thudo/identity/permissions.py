"""Staff roles, the permissions each grants, and the units each may be granted in.

A permission is what a route declares (`require(Permission.REGISTRY_READ)`); a role is a
named set of permissions held in one organisation unit. Partner clients carry the same
permission names as OAuth scopes.
"""

from __future__ import annotations

from enum import StrEnum

from thudo.core.errors import Message


class Permission(StrEnum):
    REGISTRY_READ = "registry:read"
    REGISTRY_WRITE = "registry:write"
    REGISTRY_VERIFY = "registry:verify"
    EID_RAISE_LEVEL = "eid:raise_level"
    ASSIST_ACT = "assist:act"
    AUDIT_READ = "audit:read"
    STAFF_MANAGE = "staff:manage"
    DOSSIER_RECEIVE = "dossier:receive"
    DOSSIER_READ = "dossier:read"
    DOSSIER_PROCESS = "dossier:process"
    DOSSIER_APPROVE = "dossier:approve"
    COUNCIL_MANAGE = "council:manage"
    REPORT_READ = "report:read"
    PAYMENTS_READ = "payments:read"
    PAYMENTS_MANAGE = "payments:manage"
    # Health: a facility's system checks coverage, sends records, reads a consenting
    # patient's history; the department of health's staff clean held records.
    HEALTH_COVERAGE = "health:coverage"
    HEALTH_WRITE = "health:write"
    HEALTH_READ = "health:read"
    HEALTH_QUALITY = "health:quality"
    PARKING_OPERATE = "parking:operate"
    SURVEY_MANAGE = "survey:manage"
    COUNCIL_ANSWER = "council:answer"
    FEEDBACK_HANDLE = "feedback:handle"
    FEEDBACK_MODERATE = "feedback:moderate"


class Role(StrEnum):
    ONE_STOP_OFFICER = "one_stop_officer"
    SPECIALIST = "specialist"
    APPROVER = "approver"
    UNIT_ADMIN = "unit_admin"
    CITY_ADMIN = "city_admin"
    AUDITOR = "auditor"
    COMMUNITY_HELPER = "community_helper"
    COUNCIL_CLERK = "council_clerk"
    LEADER = "leader"
    HEALTH_OFFICER = "health_officer"
    PARKING_OPERATOR = "parking_operator"
    SURVEY_EDITOR = "survey_editor"
    COUNCIL_RESPONDER = "council_responder"
    FEEDBACK_OFFICER = "feedback_officer"
    FEEDBACK_MODERATOR = "feedback_moderator"


class UnitKind(StrEnum):
    CITY = "city"
    DEPARTMENT = "department"
    WARD_COMMITTEE = "ward_committee"
    SERVICE_CENTER = "service_center"
    SERVICE_CENTER_BRANCH = "service_center_branch"
    COUNCIL_OFFICE = "council_office"


# Units bound to one ward see that ward's citizens; the others see the whole city.
WARD_BOUND_KINDS = frozenset({UnitKind.WARD_COMMITTEE, UnitKind.SERVICE_CENTER_BRANCH})

P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ONE_STOP_OFFICER: frozenset(
        {P.REGISTRY_READ, P.DOSSIER_RECEIVE, P.DOSSIER_READ, P.EID_RAISE_LEVEL}
    ),
    Role.SPECIALIST: frozenset({P.REGISTRY_READ, P.DOSSIER_READ, P.DOSSIER_PROCESS}),
    Role.APPROVER: frozenset({P.REGISTRY_READ, P.DOSSIER_READ, P.DOSSIER_APPROVE}),
    Role.UNIT_ADMIN: frozenset({P.STAFF_MANAGE, P.PAYMENTS_READ, P.PAYMENTS_MANAGE}),
    Role.CITY_ADMIN: frozenset(
        {P.STAFF_MANAGE, P.PAYMENTS_READ, P.PAYMENTS_MANAGE, P.SURVEY_MANAGE}
    ),
    Role.AUDITOR: frozenset({P.AUDIT_READ, P.PAYMENTS_READ}),
    Role.COMMUNITY_HELPER: frozenset({P.ASSIST_ACT}),
    Role.COUNCIL_CLERK: frozenset({P.COUNCIL_MANAGE}),
    Role.HEALTH_OFFICER: frozenset({P.HEALTH_QUALITY}),
    Role.PARKING_OPERATOR: frozenset({P.PARKING_OPERATE}),
    Role.SURVEY_EDITOR: frozenset({P.SURVEY_MANAGE}),
    Role.COUNCIL_RESPONDER: frozenset({P.COUNCIL_ANSWER}),
    Role.LEADER: frozenset({P.DOSSIER_READ, P.REPORT_READ, P.FEEDBACK_HANDLE}),
    Role.FEEDBACK_OFFICER: frozenset({P.FEEDBACK_HANDLE}),
    Role.FEEDBACK_MODERATOR: frozenset({P.FEEDBACK_MODERATE, P.FEEDBACK_HANDLE}),
}

# Where each role may be held; None: in any unit.
ROLE_UNIT_KINDS: dict[Role, frozenset[UnitKind] | None] = {
    Role.ONE_STOP_OFFICER: None,
    Role.SPECIALIST: None,
    Role.APPROVER: None,
    Role.UNIT_ADMIN: None,
    Role.CITY_ADMIN: frozenset({UnitKind.CITY}),
    Role.AUDITOR: None,
    Role.COMMUNITY_HELPER: frozenset({UnitKind.WARD_COMMITTEE}),
    Role.COUNCIL_CLERK: frozenset({UnitKind.COUNCIL_OFFICE}),
    Role.LEADER: None,
    # Held health records name citizens of the whole city: a city-level unit only.
    Role.HEALTH_OFFICER: frozenset({UnitKind.DEPARTMENT, UnitKind.CITY}),
    Role.PARKING_OPERATOR: None,
    Role.SURVEY_EDITOR: None,
    Role.COUNCIL_RESPONDER: None,
    Role.FEEDBACK_OFFICER: None,
    # Moderation is the city's: one team for every unit's reports.
    Role.FEEDBACK_MODERATOR: frozenset({UnitKind.CITY}),
}

ROLE_LABELS: dict[Role, Message] = {
    Role.ONE_STOP_OFFICER: Message("Cán bộ một cửa", "One-stop officer"),
    Role.SPECIALIST: Message("Chuyên viên xử lý", "Specialist"),
    Role.APPROVER: Message("Người phê duyệt", "Approver"),
    Role.UNIT_ADMIN: Message("Quản trị đơn vị", "Unit administrator"),
    Role.CITY_ADMIN: Message("Quản trị thành phố", "City administrator"),
    Role.AUDITOR: Message("Kiểm tra viên nhật ký", "Auditor"),
    Role.COMMUNITY_HELPER: Message("Tổ công nghệ số cộng đồng", "Community helper"),
    Role.COUNCIL_CLERK: Message("Chuyên viên Văn phòng HĐND", "Council clerk"),
    Role.LEADER: Message("Lãnh đạo", "Leader"),
    Role.HEALTH_OFFICER: Message("Cán bộ Sở Y tế (dữ liệu y tế)", "Health data officer"),
    Role.PARKING_OPERATOR: Message("Nhân viên vận hành bãi đỗ xe", "Parking operator"),
    Role.SURVEY_EDITOR: Message("Cán bộ khảo sát ý kiến", "Survey editor"),
    Role.COUNCIL_RESPONDER: Message(
        "Cán bộ trả lời kiến nghị cử tri", "Answers voter petitions and reports progress"
    ),
    Role.FEEDBACK_OFFICER: Message("Cán bộ xử lý phản ánh", "Report handling officer"),
    Role.FEEDBACK_MODERATOR: Message("Kiểm duyệt viên phản ánh", "Report moderator"),
}


def permissions_of(roles: set[Role] | frozenset[Role]) -> frozenset[Permission]:
    """The union of the permissions of some roles."""
    out: set[Permission] = set()
    for role in roles:
        out |= ROLE_PERMISSIONS[role]
    return frozenset(out)


def role_allowed_in(role: Role, kind: str) -> bool:
    allowed = ROLE_UNIT_KINDS[role]
    return allowed is None or kind in allowed
