"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from advanced_alchemy.base import orm_registry
from sqlmodel import SQLModel

from server.accounts import models as accounts_models
from server.aftercare import models as aftercare_models
from server.checkins import models as checkins_models
from server.consent import models as consent_models
from server.crisis import models as crisis_models
from server.family import models as family_models
from server.push import models as push_models
from server.questionnaires import models as questionnaires_models
from server.reminders import models as reminders_models
from server.schedule import models as schedule_models
from server.sharing import models as sharing_models
from server.skills import models as skills_models

__all__ = [
    "accounts_models",
    "aftercare_models",
    "checkins_models",
    "consent_models",
    "crisis_models",
    "family_models",
    "metadatas",
    "push_models",
    "questionnaires_models",
    "reminders_models",
    "schedule_models",
    "sharing_models",
    "skills_models",
]

# SQLModel tables plus advanced-alchemy's store table, which lives in its own registry.
metadatas = [SQLModel.metadata, orm_registry.metadata]
