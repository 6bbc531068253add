"""Imports every model module so SQLAlchemy metadata (and Alembic) see the whole schema."""
from app.api.models import IdempotencyKey  # noqa: F401
from app.audit.models import AuditEntry  # noqa: F401
from app.catalog.models import Attachment, AttachmentContent, CatalogEntry, Grant, InformationItem  # noqa: F401
from app.engine.models import (  # noqa: F401
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    TaskEvent,
    WorkflowTimer,
)
from app.flows.models import Application, Case  # noqa: F401
from app.legaltime.models import LegalDeadline  # noqa: F401
from app.notifications.models import Notification, NotificationReceipt  # noqa: F401
from app.org.models import Department, SignInThrottle, User, UserRole, UserSession  # noqa: F401
from app.policy.models import PolicyOverride  # noqa: F401
from app.sla.rollup import SlaDay, SlaDaySummed  # noqa: F401
