"""Registry API for authorised agency systems."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])
