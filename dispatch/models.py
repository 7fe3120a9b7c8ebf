"""Every table, imported in one place for Alembic and for `create_all` in tests."""

from dispatch.agencies.models import Agency, Station, Unit
from dispatch.audit.models import Access
from dispatch.calls.models import Call, CallerFlag, CallerLocation, CallMessage
from dispatch.db import Base
from dispatch.events.models import Event
from dispatch.idempotency import IdempotencyKey
from dispatch.incidents.models import Assignment, Incident, IncidentType
from dispatch.leases import BridgeLease
from dispatch.referrals.models import Referral
from dispatch.users.models import Token, User

__all__ = [
    "Access",
    "Agency",
    "Assignment",
    "Base",
    "BridgeLease",
    "Call",
    "CallMessage",
    "CallerFlag",
    "CallerLocation",
    "Event",
    "IdempotencyKey",
    "Incident",
    "IncidentType",
    "Referral",
    "Station",
    "Token",
    "Unit",
    "User",
]
