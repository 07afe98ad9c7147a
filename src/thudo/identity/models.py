"""Electronic identity: e-ID accounts, organisation units, staff roles, OIDC clients and
their grants, browser sessions, assisted-service consents.

Secrets are never stored in clear: passwords as argon2 hashes, one-time codes, session
ids, authorization codes and tokens as SHA-256 digests (`*_hash`), so a copy of the
database signs nobody in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from thudo.core.db import Base, BigIntPK, BigIntType, UTCDateTime


class Unit(Base):
    """An organisation unit: a city department, a ward People's Committee, the Public
    Administrative Service Center or one of its branches, the People's Council office."""

    __tablename__ = "identity_unit"

    id: Mapped[BigIntPK]
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # "city" | "department" | "ward_committee" | "service_center" | "service_center_branch"
    # | "council_office"
    kind: Mapped[str] = mapped_column(String(30))
    province_code: Mapped[str] = mapped_column(ForeignKey("geo_province.code"))
    # Set for units bound to one ward (its People's Committee, a service-center branch).
    ward_code: Mapped[str | None] = mapped_column(ForeignKey("geo_ward.code"), index=True)
    parent_id: Mapped[int | None] = mapped_column(BigIntType, ForeignKey("identity_unit.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Account(Base):
    """A citizen's e-ID account (level 1 or 2), tied to her registry record. Staff are
    citizens too: their roles are grants on their account."""

    __tablename__ = "identity_account"

    id: Mapped[BigIntPK]
    personal_id: Mapped[str] = mapped_column(
        ForeignKey("registry_citizen.personal_id"), unique=True
    )
    phone: Mapped[str] = mapped_column(String(20), index=True)
    phone_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    level: Mapped[int] = mapped_column(Integer, default=1)  # 1 | 2
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | disabled
    # Lockout with growing back-off: consecutive failures and the time sign-in reopens.
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # TOTP second factor (base32 secret); required for every staff role.
    # A one-time password handed out by an administrator (`thudo staff create`): staff
    # permissions wait until she has chosen her own.
    password_change_required: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa_false()
    )
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigIntType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LevelChange(Base):
    """An account raised to level 2 (or lowered): who checked the person, where, when."""

    __tablename__ = "identity_level_change"

    id: Mapped[BigIntPK]
    account_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    from_level: Mapped[int] = mapped_column(Integer)
    to_level: Mapped[int] = mapped_column(Integer)
    officer_account_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    unit_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_unit.id"))
    place: Mapped[str] = mapped_column(String(200))
    # What was checked in person: e.g. {"document": "cccd", "face_match": true}.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_identity_level_change_account", "account_id", "changed_at"),)


class OneTimeCode(Base):
    """A short code sent to a phone (registration, reset, assisted-service consent)."""

    __tablename__ = "identity_one_time_code"

    id: Mapped[BigIntPK]
    # "register" | "reset_password" | "assist_consent" | "phone_change"
    purpose: Mapped[str] = mapped_column(String(30))
    account_id: Mapped[int | None] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    # Where the code went (a phone number), and what it unlocks (e.g. pending registration).
    destination: Mapped[str] = mapped_column(String(100))
    code_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    consumed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_identity_one_time_code_dest", "destination", "purpose"),)


class RoleGrant(Base):
    """A staff role held in one unit; a person may hold several."""

    __tablename__ = "identity_role_grant"

    id: Mapped[BigIntPK]
    account_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    # one_stop_officer | specialist | approver | unit_admin | city_admin | auditor
    # | community_helper | council_clerk | leader
    role: Mapped[str] = mapped_column(String(30))
    unit_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_unit.id"))
    granted_by: Mapped[str] = mapped_column(String(120))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_identity_role_grant_account", "account_id"),)


class Session(Base):
    """A browser session of the portal or of the e-ID provider (cookie holds the id)."""

    __tablename__ = "identity_session"

    id: Mapped[BigIntPK]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    # How she proved herself: ["pwd"], ["pwd", "otp"], ["fed"]; and the e-ID level then.
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    acr: Mapped[str] = mapped_column(String(20))
    auth_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str | None] = mapped_column(String(300))
    # Set when a community helper acts for a citizen under AssistConsent.
    assist_consent_id: Mapped[int | None] = mapped_column(
        BigIntType, ForeignKey("identity_assist_consent.id")
    )


class Client(Base):
    """An OAuth 2.0 / OIDC client: a relying-party web app, a public app, or a partner
    system using client credentials."""

    __tablename__ = "identity_client"

    id: Mapped[BigIntPK]
    client_id: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # "web" (confidential, authorization code) | "public" (PKCE, no secret)
    # | "service" (client credentials)
    kind: Mapped[str] = mapped_column(String(12))
    secret_hash: Mapped[str | None] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Scopes the client may ask for (service clients: the scopes they are granted).
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A partner system acting for one unit (e.g. a ward's system) is scoped to it.
    unit_id: Mapped[int | None] = mapped_column(BigIntType, ForeignKey("identity_unit.id"))
    # Pairwise subject identifiers are computed per sector (default: the client id).
    sector_identifier: Mapped[str] = mapped_column(String(200))
    # First-party clients (the portal itself) skip the consent screen for basic scopes.
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuthorizationCode(Base):
    __tablename__ = "identity_authorization_code"

    id: Mapped[BigIntPK]
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("identity_client.client_id"))
    account_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(200))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    acr: Mapped[str] = mapped_column(String(20))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    session_id: Mapped[int | None] = mapped_column(BigIntType, ForeignKey("identity_session.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Token(Base):
    """An issued access token (and its refresh token, if any). Access tokens are JWTs;
    the row lets them be revoked and refresh tokens be rotated."""

    __tablename__ = "identity_token"

    id: Mapped[BigIntPK]
    # The JWT's `jti`.
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("identity_client.client_id"))
    account_id: Mapped[int | None] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    scope: Mapped[str] = mapped_column(Text)
    acr: Mapped[str | None] = mapped_column(String(20))
    session_id: Mapped[int | None] = mapped_column(BigIntType, ForeignKey("identity_session.id"))
    # The code this token (and every token refreshed from it) came from: a replayed code
    # revokes them all.
    authorization_code_id: Mapped[int | None] = mapped_column(
        BigIntType, ForeignKey("identity_authorization_code.id"), index=True
    )
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_identity_token_account", "account_id", "client_id"),)


class Consent(Base):
    """Scopes a citizen accepted for a client on the consent screen."""

    __tablename__ = "identity_consent"

    id: Mapped[BigIntPK]
    account_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    client_id: Mapped[str] = mapped_column(ForeignKey("identity_client.client_id"))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("account_id", "client_id"),)


class SigningKey(Base):
    """The provider's token-signing keys (JWK, private part included). The newest active
    key signs; retired keys stay published in the JWKS until their tokens expire."""

    __tablename__ = "identity_signing_key"

    id: Mapped[BigIntPK]
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    algorithm: Mapped[str] = mapped_column(String(10))
    private_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class FederatedIdentity(Base):
    """An account known to an external OIDC provider (e.g. the national VNeID)."""

    __tablename__ = "identity_federated_identity"

    id: Mapped[BigIntPK]
    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    linked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("issuer", "subject"),)


class AssistConsent(Base):
    """A citizen's recorded, time-limited consent for a community helper to act for her."""

    __tablename__ = "identity_assist_consent"

    id: Mapped[BigIntPK]
    citizen_account_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    helper_account_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_account.id"))
    unit_id: Mapped[int] = mapped_column(BigIntType, ForeignKey("identity_unit.id"))
    purpose: Mapped[str] = mapped_column(String(300))
    # "code" (she read out a code sent to her phone) | "app" (she approved in the app)
    given_via: Mapped[str] = mapped_column(String(10))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_identity_assist_consent_helper", "helper_account_id"),)
