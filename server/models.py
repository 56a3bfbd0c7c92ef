"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from advanced_alchemy.base import orm_registry
from sqlmodel import SQLModel

from server.accounts import models as accounts_models

__all__ = ["accounts_models", "metadatas"]

# SQLModel tables plus advanced-alchemy's store table, which lives in its own registry.
metadatas = [SQLModel.metadata, orm_registry.metadata]
