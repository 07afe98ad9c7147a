"""Import every module's models so that Alembic and the tests see the whole schema."""

from thudo.audit import models as audit_models
from thudo.core import idempotency as core_idempotency
from thudo.documents import models as documents_models
from thudo.dossiers import models as dossier_models
from thudo.feedback import models as feedback_models
from thudo.geo import models as geo_models
from thudo.health import models as health_models
from thudo.identity import models as identity_models
from thudo.indicators import models as indicator_models
from thudo.jobs import models as jobs_models
from thudo.notify import models as notify_models
from thudo.parking import models as parking_models
from thudo.participation import models as participation_models
from thudo.payments import models as payments_models
from thudo.procedures import models as procedure_models
from thudo.registry import models as registry_models

__all__ = [
    "audit_models",
    "core_idempotency",
    "documents_models",
    "dossier_models",
    "feedback_models",
    "geo_models",
    "health_models",
    "identity_models",
    "indicator_models",
    "jobs_models",
    "notify_models",
    "parking_models",
    "participation_models",
    "payments_models",
    "procedure_models",
    "registry_models",
]
