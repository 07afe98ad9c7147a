"""The sandbox bank: a small separate web app for development, demonstrations and tests.

`thudo sandbox-bank --port 8100` serves two things a real bank or gateway would:

- `/` — paste (or open from the payment page) a VietQR payload; it is decoded and checked
  (CRC included), the beneficiary and amount are shown, and "Thanh toán" credits the
  account: the bank's signed notification is sent to the platform's webhook
  (`/api/v1/payments/webhooks/sandbox-bank`). The amount can be changed to try under- and
  over-payment.
- `/cong-thanh-toan` — the card / e-wallet gateway page the platform redirects to with a
  signed request; paying sends the signed server-to-server callback
  (`/api/v1/payments/webhooks/sandbox-card`) and returns the payer to the platform.

Settings: THUDO_SANDBOX_PLATFORM_URL (default THUDO_BASE_URL) and the same webhook
secrets as the platform (THUDO_PAYMENT_WEBHOOK_SECRETS, or var/secrets in development).
"""

from __future__ import annotations

import os
import secrets
from html import escape
from typing import Annotated
from urllib.parse import urlencode, urlsplit

import httpx
import orjson
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from thudo.core.clock import now
from thudo.core.settings import Settings, get_settings, payment_webhook_secret
from thudo.payments import vietqr
from thudo.payments.providers import (
    SANDBOX_BANK,
    SANDBOX_CARD,
    signed_headers,
    verify_params,
)
from thudo.payments.receipt import format_vnd

# A few NAPAS BINs, to show the bank's name (the sandbox accepts any 6 digits).
BANKS = {
    "970415": "VietinBank",
    "970418": "BIDV",
    "970405": "Agribank",
    "970436": "Vietcombank",
    "970403": "Sacombank",
    "970422": "MB",
    "970407": "Techcombank",
}
STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f4f7f6;line-height:1.5}
header{background:#0b4f3c;color:#fff;padding:1rem}header p{margin:0;font-weight:700}
main{max-width:40rem;margin:0 auto;padding:1rem}
label{display:block;font-weight:700;margin-top:1rem}
textarea,input{width:100%;box-sizing:border-box;font:inherit;padding:.6rem;border:2px solid #4a4a4a;border-radius:4px;min-height:44px}
button{margin-top:1rem;font:inherit;font-weight:700;padding:.7rem 1.4rem;min-height:44px;border:0;border-radius:4px;background:#0b4f3c;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#0b4f3c;border:2px solid #0b4f3c}
:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}
dl{display:grid;grid-template-columns:minmax(8rem,auto) 1fr;gap:.3rem 1rem}dt{font-weight:700}dd{margin:0;overflow-wrap:anywhere}
.note{background:#fff4d1;color:#5c4300;padding:.6rem;border-radius:4px}
.error{background:#fde8e8;color:#7a0f12;padding:.6rem;border-radius:4px}
.ok{background:#e3f4e8;color:#0b4f30;padding:.6rem;border-radius:4px}
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = f"""<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Ngân hàng thử nghiệm</title><link rel="stylesheet" href="/style.css"></head>
<body><header><p>Ngân hàng thử nghiệm (sandbox) — không có tiền thật</p></header>
<main><h1>{escape(title)}</h1>{body}</main></body></html>"""
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": "default-src 'self'; form-action 'self' *; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _platform_url(settings: Settings) -> str:
    return os.environ.get("THUDO_SANDBOX_PLATFORM_URL", settings.base_url).rstrip("/")


async def _send(settings: Settings, provider: str, body: dict[str, object]) -> tuple[int, str]:
    """Post a signed notification to the platform; its status and answer."""
    secret = payment_webhook_secret(settings, provider)
    if secret is None:
        return 0, f"no secret for {provider}"
    raw = orjson.dumps(body)
    url = f"{_platform_url(settings)}/api/v1/payments/webhooks/{provider}"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.post(url, content=raw, headers=signed_headers(secret, raw))
    except httpx.HTTPError as exc:
        return 0, f"{url}: {exc}"
    return r.status_code, r.text


def _decoded_block(qr: vietqr.VietQR) -> str:
    bank = BANKS.get(qr.bank_bin, "—")
    return (
        "<dl>"
        f"<dt>Ngân hàng thụ hưởng</dt><dd>{escape(bank)} (BIN {escape(qr.bank_bin)})</dd>"
        f"<dt>Số tài khoản</dt><dd>{escape(qr.account_number)}</dd>"
        f"<dt>Số tiền</dt><dd>{escape(format_vnd(qr.amount) if qr.amount else 'người chuyển nhập')}</dd>"
        f"<dt>Nội dung</dt><dd>{escape(qr.purpose or '—')}</dd>"
        f"<dt>Dịch vụ</dt><dd>{escape(qr.service_code)}</dd>"
        "</dl>"
    )


def create_sandbox_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Sandbox bank", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/style.css")
    async def style() -> Response:
        return Response(STYLE, media_type="text/css")

    @app.get("/", response_class=HTMLResponse)
    async def scan(payload: str = "") -> HTMLResponse:
        form = (
            '<form method="get" action="/"><label for="payload">Chuỗi VietQR (dán hoặc quét)</label>'
            f'<textarea id="payload" name="payload" rows="4" required>{escape(payload)}</textarea>'
            '<button class="secondary" type="submit">Đọc mã</button></form>'
        )
        if not payload:
            return _page("Quét mã VietQR", form)
        try:
            qr = vietqr.decode(payload)
        except vietqr.VietQRError as exc:
            return _page(
                "Quét mã VietQR",
                f'<p class="error" role="alert">Mã không hợp lệ: {escape(str(exc))}</p>' + form,
                status=422,
            )
        pay = (
            '<form method="post" action="/thanh-toan">'
            f'<input type="hidden" name="payload" value="{escape(payload)}">'
            '<label for="amount">Số tiền chuyển (đồng)</label>'
            f'<input id="amount" name="amount" inputmode="numeric" value="{qr.amount or ""}" required>'
            '<button type="submit">Thanh toán</button></form>'
        )
        return _page("Xác nhận chuyển khoản", _decoded_block(qr) + pay)

    @app.post("/thanh-toan", response_class=HTMLResponse)
    async def pay(payload: Annotated[str, Form()], amount: Annotated[str, Form()]) -> HTMLResponse:
        try:
            qr = vietqr.decode(payload)
        except vietqr.VietQRError as exc:
            return _page(
                "Chuyển khoản", f'<p class="error" role="alert">{escape(str(exc))}</p>', 422
            )
        digits = amount.replace(".", "").replace(",", "").strip()
        if not digits.isdigit() or int(digits) <= 0:
            return _page(
                "Chuyển khoản", '<p class="error" role="alert">Số tiền không hợp lệ.</p>', 422
            )
        txn = "SBX" + now().strftime("%y%m%d%H%M%S") + secrets.token_hex(3).upper()
        # Banks put their own words around the sender's content: the platform must cope.
        content = f"SANDBOX.{txn}.{qr.purpose or ''}.CT tu 0000000000"
        status, answer = await _send(
            settings,
            SANDBOX_BANK,
            {
                "id": txn,
                "amount": int(digits),
                "content": content,
                "account_number": qr.account_number,
                "transaction_time": now().isoformat(),
            },
        )
        if status != 200:
            return _page(
                "Chuyển khoản",
                f'<p class="error" role="alert">Nền tảng chưa nhận thông báo ({status}): {escape(answer[:300])}</p>',
                502,
            )
        outcome = orjson.loads(answer).get("outcome", "?")
        return _page(
            "Đã chuyển khoản",
            f'<p class="ok" role="status">Giao dịch {escape(txn)}: đã chuyển '
            f"{escape(format_vnd(int(digits)))}. Nền tảng ghi nhận: <strong>{escape(outcome)}</strong>.</p>"
            + _decoded_block(qr),
        )

    def _trusted_return(url: str) -> bool:
        platform = urlsplit(_platform_url(settings))
        target = urlsplit(url)
        return (target.scheme, target.netloc) == (platform.scheme, platform.netloc)

    @app.get("/cong-thanh-toan", response_class=HTMLResponse)
    async def gateway(request: Request) -> HTMLResponse:
        params = dict(request.query_params)
        secret = payment_webhook_secret(settings, SANDBOX_CARD)
        if (
            secret is None
            or not verify_params(secret, params)
            or not _trusted_return(params.get("return_url", ""))
        ):
            return _page(
                "Cổng thanh toán",
                '<p class="error" role="alert">Yêu cầu thanh toán không có chữ ký hợp lệ.</p>',
                400,
            )
        amount = int(params.get("amount", "0"))
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in params.items()
        )
        body = (
            "<dl>"
            f"<dt>Hóa đơn</dt><dd>{escape(params.get('invoice', ''))}</dd>"
            f"<dt>Số tiền</dt><dd>{escape(format_vnd(amount))}</dd></dl>"
            '<p class="note">Thẻ thử nghiệm: mọi số thẻ đều được chấp nhận.</p>'
            f'<form method="post" action="/cong-thanh-toan">{hidden}'
            '<label for="card">Số thẻ / ví</label>'
            '<input id="card" name="card" value="9704 0000 0000 0018" autocomplete="off" required>'
            '<button type="submit">Thanh toán</button></form>'
        )
        return _page("Cổng thanh toán thẻ / ví điện tử", body)

    @app.post("/cong-thanh-toan")
    async def gateway_pay(request: Request) -> Response:
        form = await request.form()
        params = {k: str(v) for k, v in form.items() if k != "card"}
        secret = payment_webhook_secret(settings, SANDBOX_CARD)
        if (
            secret is None
            or not verify_params(secret, params)
            or not _trusted_return(params.get("return_url", ""))
        ):
            return _page(
                "Cổng thanh toán", '<p class="error" role="alert">Yêu cầu không hợp lệ.</p>', 400
            )
        txn = "CARD" + now().strftime("%y%m%d%H%M%S") + secrets.token_hex(3).upper()
        status, answer = await _send(
            settings,
            SANDBOX_CARD,
            {
                "id": txn,
                "invoice_code": params["invoice"],
                "amount": int(params["amount"]),
                "status": "succeeded",
                "paid_at": now().isoformat(),
            },
        )
        if status != 200:
            return _page(
                "Cổng thanh toán",
                f'<p class="error" role="alert">Nền tảng chưa nhận thông báo ({status}): {escape(answer[:300])}</p>',
                502,
            )
        back = params["return_url"]
        sep = "&" if "?" in back else "?"
        return RedirectResponse(
            back + sep + urlencode({"result": "success", "txn": txn}), status_code=303
        )

    return app
