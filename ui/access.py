"""Who may reach what: each access level and the roles it lets through, the one table that every route's role
check is built from (`ui.deps` for the API, `ui.pages`, the websockets). tests/ui/test_role_table.py walks every
route of the app against it."""

from __future__ import annotations

from typing import Literal

Level = Literal[
    "person", "staff", "taker", "dispatcher", "field", "supervisor", "admin", "responder", "telephony", "opd"
]

# The admin is a person: it passes wherever the people's roles do, but not the responder's page (made for a
# unit's phone; the admin lands on /supervisor) nor the bridge's API (a machine's: a person's stolen session
# must not inject 112 calls or take the bridge lease). The telephony role reaches the bridge's API and nothing else.
# An agency's desk (opd) is not staff of the center: it reaches its page and its agency's referrals (without the
# caller), nothing else: no calls, no event stream, not even the reference data.
REACH: dict[Level, tuple[str, ...]] = {
    # reference data (region, units, incident types, maps), one's own profile, an incident (a responder: its
    # unit's), the event stream /ws (filtered for responders)
    "person": ("call_taker", "dispatcher", "responder", "supervisor", "admin"),
    # reading calls, incidents, events, referrals and public alerts (CAP), an incident as CAP; the console and /docs;
    # major incidents, their board, shelters and public information message
    "staff": ("call_taker", "dispatcher", "supervisor", "admin"),
    # taking calls: answering, classifying, new incidents and referrals, calling abandoned callers back (the
    # callback list, placing a callback, its outcome), filing a report under a major incident ("terkait") (a
    # dispatcher may cover a desk)
    "taker": ("call_taker", "dispatcher", "supervisor", "admin"),
    # units to incidents, closing incidents, a unit's status, recommendations, triage counts per site and units
    # staged for a major incident
    "dispatcher": ("dispatcher", "supervisor", "admin"),
    # a unit's position and its assignments' steps (a responder: its own unit's)
    "field": ("responder", "dispatcher", "supervisor", "admin"),
    # reports, the call queue, recordings, caller flags, CAP alerts in and confirming them, the supervisor's page,
    # the places learned from closed incidents (listing, correcting, removing them), declaring a major incident
    # (by hand, from an alert, accepting a burst of calls) and standing it down, burst proposals, surge figures
    "supervisor": ("supervisor", "admin"),
    # users and login locks
    "admin": ("admin",),
    # the responder's page
    "responder": ("responder",),
    # the PBX bridge's API (`/api/v1/telephony/...` but the queue and recordings, which are supervisors'), the
    # callbacks it places among it
    "telephony": ("telephony",),
    # an agency's desk: /opd and `/api/v1/opd/...`, its own agency's referrals only
    "opd": ("opd",),
}

# Routes that need no login, and why.
PUBLIC: dict[str, str] = {
    "/": "sends to the login page, or a logged-in person to their page",
    "/login": "the login page",
    "/api/v1/auth/login": "logging in",
    "/api/v1/auth/token": "an API token for a username and password",
    "/api/v1/auth/logout": "ends the session or token it is sent with, if any",
    "/healthz": "the load balancer's probe: no data",
    "/openapi.json": "names the routes, no data",
    "/i18n.json": "the pages' texts",
    "/static/{path:path}": "the pages' files",
    "/docs/assets/{name}": "Swagger UI's files",
    "/l/{token}": "a caller's location link: its token is the key; the page shows nothing of the call",
}
# Twilio's webhooks: no login, but Twilio signs each request (`ui.routes.telephony.twilio_form`, 403 unsigned).
SIGNED_BY_TWILIO = "/telephony/twilio/"


def allows(level: Level, role: str) -> bool:
    return role in REACH[level]


def refusal(level: Level, role: str) -> str:
    """What a refused role is told (with 403, or as a websocket's close reason with 4403)."""
    return f"role {role} may not do this (needs {', '.join(REACH[level])})"
