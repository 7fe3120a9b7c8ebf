"""Every table, imported in one place for Alembic and for `create_all` in tests."""

from dispatch.agencies.models import Agency, Station, Unit
from dispatch.alerts.models import Alert, AlertMessage
from dispatch.audit.models import Access
from dispatch.calls.models import Call, Callback, CallerFlag, CallerLocation, CallMessage, LocationLink
from dispatch.db import Base
from dispatch.events.models import Event
from dispatch.idempotency import IdempotencyKey
from dispatch.incidents.models import Assignment, Incident, IncidentType
from dispatch.leases import BridgeLease
from dispatch.major.models import MajorIncident, TriageCount
from dispatch.places.models import LearnedPlace
from dispatch.referrals.models import Referral
from dispatch.users.models import Token, User

__all__ = [
    "Access",
    "Agency",
    "Alert",
    "AlertMessage",
    "Assignment",
    "Base",
    "BridgeLease",
    "Call",
    "CallMessage",
    "Callback",
    "CallerFlag",
    "CallerLocation",
    "Event",
    "IdempotencyKey",
    "Incident",
    "IncidentType",
    "LearnedPlace",
    "LocationLink",
    "MajorIncident",
    "Referral",
    "Station",
    "Token",
    "TriageCount",
    "Unit",
    "User",
]
