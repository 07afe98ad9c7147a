"""Errors as RFC 9457 problem+json, with Vietnamese and English messages and the field at fault.

Every module raises `DomainError` (or a subclass); this file maps it, request-validation
errors and unexpected failures to one response shape:

    {"type", "title", "status", "detail", "title_vi", "title_en", "detail_vi", "detail_en",
     "errors": [{"field", "code", "message", "message_vi", "message_en"}]}

`title`/`detail`/`message` follow the request's language (Vietnamese unless it asks for
English); the `_vi`/`_en` twins are always present.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from thudo.core.db import connection_failure_types, no_connection
from thudo.core.i18n import request_language

PROBLEM_BASE = "https://thudo.hanoi.gov.vn/problems/"
log = structlog.get_logger("thudo.errors")


@dataclass(frozen=True)
class Message:
    vi: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: Message

    def as_dict(self, lang: str) -> dict[str, Any]:
        return {
            "field": self.field,
            "code": self.code,
            "message": self.message.get(lang),
            "message_vi": self.message.vi,
            "message_en": self.message.en,
        }


@dataclass
class DomainError(Exception):
    """A failure the user can understand and act on."""

    code: str
    title: Message
    status: int = 400
    detail: Message | None = None
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.title.en}"


def not_found(what_vi: str, what_en: str, key: str) -> DomainError:
    return DomainError(
        code="not-found",
        status=404,
        title=Message("Không tìm thấy", "Not found"),
        detail=Message(f"Không tìm thấy {what_vi} {key}.", f"No {what_en} {key}."),
    )


def invalid(field_name: str, code: str, vi: str, en: str) -> DomainError:
    """A 422 naming one field."""
    return DomainError(
        code="validation-error",
        status=422,
        title=Message("Dữ liệu không hợp lệ", "Invalid input"),
        detail=Message(f"{field_name}: {vi}", f"{field_name}: {en}"),
        errors=[FieldError(field_name, code, Message(vi, en))],
    )


def problem_response(error: DomainError, lang: str) -> JSONResponse:
    detail = error.detail or error.title
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + error.code,
        "title": error.title.get(lang),
        "status": error.status,
        "detail": detail.get(lang),
        "title_vi": error.title.vi,
        "title_en": error.title.en,
        "detail_vi": detail.vi,
        "detail_en": detail.en,
        "errors": [e.as_dict(lang) for e in error.errors],
        **error.extra,
    }
    headers = {"Content-Language": lang, **(error.headers or {})}
    return JSONResponse(
        body, status_code=error.status, media_type="application/problem+json", headers=headers
    )


# Vietnamese wording for Pydantic's built-in error types; {placeholders} come from ctx.
_PYDANTIC_VI: dict[str, str] = {
    "missing": "Trường này là bắt buộc.",
    "string_type": "Phải là một chuỗi ký tự.",
    "string_too_short": "Phải có ít nhất {min_length} ký tự.",
    "string_too_long": "Không được dài quá {max_length} ký tự.",
    "string_pattern_mismatch": "Không đúng định dạng.",
    "int_type": "Phải là số nguyên.",
    "int_parsing": "Phải là số nguyên.",
    "float_parsing": "Phải là số.",
    "bool_parsing": "Phải là true hoặc false.",
    "date_parsing": "Ngày không hợp lệ (định dạng YYYY-MM-DD).",
    "date_from_datetime_parsing": "Ngày không hợp lệ (định dạng YYYY-MM-DD).",
    "date_type": "Ngày không hợp lệ (định dạng YYYY-MM-DD).",
    "datetime_parsing": "Thời điểm không hợp lệ (ISO 8601).",
    "datetime_from_date_parsing": "Thời điểm không hợp lệ (ISO 8601).",
    "greater_than": "Phải lớn hơn {gt}.",
    "greater_than_equal": "Phải lớn hơn hoặc bằng {ge}.",
    "less_than": "Phải nhỏ hơn {lt}.",
    "less_than_equal": "Phải nhỏ hơn hoặc bằng {le}.",
    "literal_error": "Phải là một trong các giá trị: {expected}.",
    "enum": "Phải là một trong các giá trị: {expected}.",
    "extra_forbidden": "Trường này không được phép.",
    "json_invalid": "JSON không hợp lệ.",
    "model_attributes_type": "Phải là một đối tượng JSON.",
    "model_type": "Phải là một đối tượng JSON.",
    "dict_type": "Phải là một đối tượng JSON.",
    "list_type": "Phải là một danh sách.",
    "too_long": "Không được có quá {max_length} phần tử.",
    "too_short": "Phải có ít nhất {min_length} phần tử.",
    "value_error": "Giá trị không hợp lệ.",
    "uuid_parsing": "Mã định danh UUID không hợp lệ.",
    "url_parsing": "Địa chỉ URL không hợp lệ.",
    "value_not_email": "Địa chỉ email không hợp lệ.",
}

_LOC_SKIP = {"body", "query", "path", "header", "cookie", "form"}


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for i, p in enumerate(loc) if not (i == 0 and p in _LOC_SKIP)]
    return ".".join(parts) or "body"


def pydantic_field_errors(raw_errors: Any) -> list[FieldError]:
    out: list[FieldError] = []
    for err in raw_errors:
        etype = str(err.get("type", "value_error"))
        ctx = err.get("ctx") or {}
        en = str(err.get("msg", "Invalid value"))
        if en.startswith("Value error, "):
            en = en[len("Value error, ") :]
        vi = ctx.get("vi")
        if not vi:
            template = _PYDANTIC_VI.get(etype, "Giá trị không hợp lệ.")
            try:
                vi = template.format(**ctx)
            except (KeyError, IndexError):
                vi = template
        name = field_name(err.get("loc", ()))
        if ctx.get("field"):  # a model-level check names the field it is about
            name = ctx["field"] if name == "body" else f"{name}.{ctx['field']}"
        out.append(FieldError(name, etype, Message(str(vi), en)))
    return out


def validation_error(errors: list[FieldError]) -> DomainError:
    first = errors[0] if errors else None
    detail = (
        Message(f"{first.field}: {first.message.vi}", f"{first.field}: {first.message.en}")
        if first
        else None
    )
    return DomainError(
        code="validation-error",
        status=422,
        title=Message("Dữ liệu không hợp lệ", "Invalid input"),
        detail=detail,
        errors=errors,
    )


_HTTP_TITLES: dict[int, Message] = {
    400: Message("Yêu cầu không hợp lệ", "Bad request"),
    401: Message("Chưa xác thực", "Unauthorized"),
    403: Message("Không có quyền truy cập", "Forbidden"),
    404: Message("Không tìm thấy", "Not found"),
    405: Message("Phương thức không được hỗ trợ", "Method not allowed"),
    409: Message("Xung đột dữ liệu", "Conflict"),
    413: Message("Dữ liệu quá lớn", "Payload too large"),
    415: Message("Kiểu dữ liệu không được hỗ trợ", "Unsupported media type"),
    429: Message("Quá nhiều yêu cầu", "Too many requests"),
}


# How long a client is asked to wait before trying again when the service is overloaded.
RETRY_AFTER_SECONDS = 2


def service_busy() -> DomainError:
    """A 503: the request got no database connection in time, so nothing was done."""
    return DomainError(
        code="service-busy",
        status=503,
        title=Message("Hệ thống đang quá tải", "Service overloaded"),
        detail=Message(
            "Hệ thống đang bận nên chưa thực hiện yêu cầu của bạn; không có gì bị thay đổi. "
            f"Vui lòng thử lại sau {RETRY_AFTER_SECONDS} giây.",
            "The service is too busy to carry out your request; nothing was changed. "
            f"Please try again in {RETRY_AFTER_SECONDS} seconds.",
        ),
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


# Renders an error as a page for people: (request, status, title, detail) -> response.
HtmlErrorPage = Callable[[Request, int, Message, Message | None], Response]


def wants_html(request: Request) -> bool:
    """A browser asking for a page; API paths always answer problem+json."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


# Renders an error in another API's own shape (FHIR's OperationOutcome): (error, lang) -> response.
ErrorRenderer = Callable[[DomainError, str], Response]


def register_error_renderer(app: FastAPI, path_prefix: str, renderer: ErrorRenderer) -> None:
    """Errors of the routes under a path prefix are rendered by `renderer`, not problem+json."""
    renderers: dict[str, ErrorRenderer] | None = getattr(app.state, "error_renderers", None)
    if renderers is None:
        renderers = app.state.error_renderers = {}
    renderers[path_prefix] = renderer


def _problem(request: Request, error: DomainError) -> Response:
    renderers: dict[str, ErrorRenderer] = getattr(request.app.state, "error_renderers", {})
    lang = request_language(request)
    for prefix, renderer in renderers.items():
        if request.url.path.startswith(prefix):
            return renderer(error, lang)
    return problem_response(error, lang)


def install_error_handlers(app: FastAPI, *, html_page: HtmlErrorPage | None = None) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if html_page is not None and wants_html(request):
            page = html_page(request, exc.status, exc.title, exc.detail)
            page.headers.update(exc.headers or {})
            return page
        return _problem(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        error = validation_error(pydantic_field_errors(exc.errors()))
        return _problem(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Any:
        title = _HTTP_TITLES.get(exc.status_code, Message("Lỗi", "Error"))
        if html_page is not None and wants_html(request):
            return html_page(request, exc.status_code, title, None)
        detail = exc.detail if isinstance(exc.detail, str) else None
        error = DomainError(
            code=f"http-{exc.status_code}",
            status=exc.status_code,
            title=title,
            detail=Message(detail, detail) if detail and detail != title.en else None,
            headers=dict(exc.headers) if exc.headers else None,
        )
        return _problem(request, error)

    async def _busy(request: Request, exc: Exception) -> Response:
        # A warning, not a traceback: under overload there are many, and nothing failed.
        log.warning("no_database_connection", path=request.url.path, error=str(exc)[:200])
        return await _domain(request, service_busy())

    async def _database_error(request: Request, exc: Exception) -> Response:
        if no_connection(exc):
            return await _busy(request, exc)
        return await _unexpected(request, exc)

    for failure in connection_failure_types():
        app.add_exception_handler(failure, _database_error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if no_connection(exc):  # raised outside the routes (a middleware)
            return await _busy(request, exc)
        log.exception("unhandled_error", path=request.url.path)
        if html_page is not None and wants_html(request):
            return html_page(request, 500, Message("Lỗi hệ thống", "Internal error"), None)
        error = DomainError(
            code="internal-error",
            status=500,
            title=Message("Lỗi hệ thống", "Internal error"),
            detail=Message(
                "Đã xảy ra lỗi; dữ liệu của bạn chưa bị thay đổi. Vui lòng thử lại sau.",
                "Something went wrong; nothing was changed. Please try again later.",
            ),
        )
        return _problem(request, error)
