"""Settings from THUDO_* environment variables; fail fast on unsafe production defaults."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]


class SettingsError(RuntimeError):
    """Raised when the settings would make the platform unsafe or unusable."""


# The jobs process's connections (SQLAlchemy pool of 2, as many again in overflow): its
# periodic tasks run one batch per transaction and rarely more than two at once.
JOBS_CONNECTIONS = 4


@dataclass(frozen=True)
class ConnectionBudget:
    """One web worker's PostgreSQL connections: the SQLAlchemy pool (plus its overflow)
    and the asyncpg pool of the hot paths."""

    orm_pool: int
    orm_overflow: int
    hot_pool: int

    @property
    def per_process(self) -> int:
        return self.orm_pool + self.orm_overflow + self.hot_pool


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="THUDO_", extra="ignore")

    env: Environment = "development"
    # Where the embedded database, generated keys and uploaded files live.
    data_dir: Path = Path("var")
    database_url: str = ""
    # Signs sessions and tokens. Outside development it must be given explicitly.
    secret_key: SecretStr | None = None
    # Development/test convenience only: a bearer token with every API scope. Partner
    # systems use OAuth 2.0 client credentials; in production this token grants nothing.
    admin_token: SecretStr | None = None
    log_level: str = "INFO"
    log_json: bool | None = None
    default_language: Literal["vi", "en"] = "vi"
    base_url: str = "http://127.0.0.1:8000"
    # The city this deployment serves (GSO province code); Hà Nội is 01.
    city_province_code: str = "01"
    verify_max_rows: int = 100_000
    # PostgreSQL connections: the whole deployment — every web worker and the jobs
    # process — opens at most db_max_connections (PostgreSQL's default max_connections is
    # 100; the rest is left for psql, migrations and the superuser's reserved slots). Each
    # web worker's share is split between its two pools, each at most db_pool_size (see
    # `connection_budget`). A request that gets no connection within db_pool_timeout
    # seconds is answered 503 with Retry-After.
    db_max_connections: int = 90
    db_pool_size: int = 20
    db_pool_timeout: float = 5.0
    # Web worker processes (`thudo serve --workers` sets it): the budget is shared by them.
    web_workers: int = 1
    db_echo: bool = False
    # Run the periodic tasks (audit sealing, …) inside each web process. `thudo serve`
    # runs them in a separate `thudo jobs run` process instead and turns this off.
    jobs_in_web: bool = True
    # Assisted service: how long a citizen's consent to a community helper lasts, and how
    # long the code sent to her phone stays valid.
    assist_consent_minutes: int = 120
    assist_code_minutes: int = 10
    # Rate limits (sign-in, registration, codes) are kept in memory per process unless a
    # Redis URL is given (redis://host:6379/0), which several processes then share.
    redis_url: str | None = None
    # Where SMS go: "dev" marks them sent without sending (read them at /dev/outbox in
    # development and test), or "package.module:Factory" for a real gateway's sender.
    sms_sender: str = "dev"
    # More indicator definitions (TOML, see docs/indicators.md), beside the shipped ones.
    indicators_dir: str | None = None
    # Compute and publish the indicators in the jobs process (off for test servers that
    # share one SQLite file with a test run; the tests compute explicitly).
    indicators_jobs: bool = True
    # Where e-mail goes: an SMTP relay, smtp://user:pass@host:587 (STARTTLS when offered)
    # or smtps://…:465; empty sends nothing (read them at /dev/mailbox in development).
    smtp_url: SecretStr | None = None
    mail_from: str = "Thủ Đô Số <khong-tra-loi@thudo.hanoi.gov.vn>"
    # Payment providers' webhook secrets, e.g. {"sandbox-bank": "…"} (JSON). Outside
    # production a missing one is generated under data_dir/secrets.
    payment_webhook_secrets: dict[str, SecretStr] = {}
    # The sandbox bank (`thudo sandbox-bank`): where the payment page links to, and where
    # the card / e-wallet redirect provider sends the payer.
    sandbox_bank_url: str = "http://127.0.0.1:8100"
    # Payment links and open invoices: how long a citizen has to pay by default (hours).
    invoice_due_hours: int = 72
    # OpenID Connect provider: token lifetimes in seconds.
    access_token_seconds: int = 900
    id_token_seconds: int = 900
    refresh_token_seconds: int = 30 * 24 * 3600
    authorization_code_seconds: int = 120
    # How long a process may trust its cached "this access token is not revoked" answer.
    token_revocation_cache_seconds: float = 5.0
    # An external OpenID Connect provider (e.g. the national VNeID) the portal trusts.
    external_oidc_issuer: str = ""
    external_oidc_client_id: str = ""
    external_oidc_client_secret: SecretStr | None = None
    external_oidc_personal_id_claim: str = "personal_id"
    external_oidc_scopes: str = "openid profile personal_id"
    external_oidc_name: str = "VNeID"
    # The provider's acr values and the e-ID level each proves (JSON object).
    external_oidc_acr_levels: dict[str, int] = {"eid:level1": 1, "eid:level2": 2}
    # The national public service portal (Cổng Dịch vụ công quốc gia): every dossier status
    # change is POSTed there as JSON, signed with HMAC-SHA256 of the body under the secret
    # (header X-Thudo-Signature: sha256=<hex>). Unset: changes are logged "not configured".
    # Parking: how long a reservation holds a place, how long a driver at the exit gate
    # has to pay the fee's invoice, how many holds one citizen may have at once, and the
    # key that signs ticket and reservation QR codes (default: derived from secret_key).
    parking_hold_minutes: int = 30
    parking_payment_minutes: int = 15
    parking_max_active_holds: int = 2
    parking_qr_secret: SecretStr | None = None
    national_portal_url: str | None = None
    national_portal_secret: SecretStr | None = None
    # The public map of reports: the base map's tiles ({z}/{x}/{y}, https) and the credit
    # their licence asks for. OpenStreetMap's own servers suit a demonstration; a city
    # deployment names its own tile server (visitors' browsers fetch the tiles). Empty: no
    # base map, the reports and ward counts alone.
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_tile_attribution: str = "© OpenStreetMap contributors"

    @model_validator(mode="after")
    def _fill_and_check(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'thudo.db'}"
        if self.map_tile_url and not (
            self.map_tile_origin and all(p in self.map_tile_url for p in ("{z}", "{x}", "{y}"))
        ):
            raise SettingsError(
                "THUDO_MAP_TILE_URL must be an https:// address with {z}, {x} and {y} "
                f"(or empty for no base map): {self.map_tile_url!r}"
            )
        self.connection_budget()  # refuses a budget too small for the workers
        if self.env == "production":
            missing = [
                name
                for name, value in (("THUDO_SECRET_KEY", self.secret_key),)
                if value is None or len(value.get_secret_value()) < 32
            ]
            if missing:
                raise SettingsError(
                    "Refusing to start in production without strong secrets "
                    f"(at least 32 characters): {', '.join(missing)}"
                )
            # The development senders only keep messages in the database and mark them sent:
            # in production the one-time codes and notices would reach nobody, silently.
            if self.sms_sender == "dev":
                raise SettingsError(
                    "Refusing to start in production with the development SMS sender "
                    "(THUDO_SMS_SENDER=dev sends nothing): name the gateway's sender, "
                    "package.module:Factory"
                )
            if self.smtp_url is None or not self.smtp_url.get_secret_value():
                raise SettingsError(
                    "Refusing to start in production without an e-mail relay: set "
                    "THUDO_SMTP_URL (smtp://user:pass@host:587 or smtps://…:465)"
                )
        else:
            if self.secret_key is None:
                self.secret_key = SecretStr(_local_secret(self.data_dir, "secret_key"))
            if self.admin_token is None:
                self.admin_token = SecretStr(_local_secret(self.data_dir, "admin_token"))
        return self

    def connection_budget(self) -> ConnectionBudget:
        """How many PostgreSQL connections each web worker's pools may hold, so that
        web_workers × per_process + JOBS_CONNECTIONS ≤ db_max_connections."""
        share = (self.db_max_connections - JOBS_CONNECTIONS) // max(self.web_workers, 1)
        if share < 2:
            raise SettingsError(
                f"THUDO_DB_MAX_CONNECTIONS={self.db_max_connections} leaves {max(share, 0)} "
                f"connection(s) to each of {self.web_workers} web workers once the jobs "
                f"process has its {JOBS_CONNECTIONS}: each needs at least 2 (one per pool)"
            )
        hot = max(1, min(self.db_pool_size, share // 2))
        orm = min(self.db_pool_size, share - hot)
        overflow = min(orm, share - hot - orm)  # as many again under bursts, within the share
        return ConnectionBudget(orm_pool=orm, orm_overflow=overflow, hot_pool=hot)

    @property
    def admin_token_accepted(self) -> bool:
        """The admin token opens the APIs in development and tests, never in production."""
        return self.env != "production" and self.admin_token is not None

    @property
    def map_tile_origin(self) -> str:
        """scheme://host[:port] of the tile server, for the map page's CSP ('' if none)."""
        url = urlsplit(self.map_tile_url)
        secure = url.scheme == "https" or (url.scheme == "http" and url.hostname == "127.0.0.1")
        return f"{url.scheme}://{url.netloc}" if secure and url.netloc else ""

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.env == "production"


def payment_webhook_secret(settings: Settings, provider: str) -> str | None:
    """The webhook secret of a payment provider; None when production has none set."""
    given = settings.payment_webhook_secrets.get(provider)
    if given is not None:
        return given.get_secret_value()
    if settings.env == "production":
        return None
    return _local_secret(settings.data_dir, f"payment_webhook_{provider}")


def _local_secret(data_dir: Path, name: str) -> str:
    """A random secret kept under data_dir (never in git), created on first use."""
    path = data_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
