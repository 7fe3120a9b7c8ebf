"""CAP 1.2 alerts in (posted by a supervisor, imported, or polled from a feed) and incidents as CAP out."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from dispatch.alerts import cap
from dispatch.alerts import service as alerts
from dispatch.alerts.parse import MAX_BYTES, parse
from dispatch.bounds import Id
from dispatch.clock import utcnow
from dispatch.incidents import service as incidents
from ui.context import Ctx
from ui.deps import DB, CtxDep, Staff, Supervisor

router = APIRouter(prefix="/api/v1", tags=["alerts"])
XML_TYPES = ("application/xml", "text/xml", "application/cap+xml")
CAP_BODY = {
    "requestBody": {
        "required": True,
        "description": "One CAP 1.2 <alert> (no DTD, no entities), at most 256 KB",
        "content": {t: {"schema": {"type": "string"}} for t in XML_TYPES},
    }
}


async def xml_body(request: Request) -> bytes:
    """The request's XML, read before the endpoint's thread runs; 415 for another content type."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in XML_TYPES:
        raise HTTPException(
            415,
            "Kirim dokumen CAP sebagai application/xml. / "
            f"Send the CAP document as application/xml (got {kind or 'none'}).",
        )
    body = await request.body()
    if len(body) > MAX_BYTES:  # the app's own body limit is the same; said here in CAP's words
        raise HTTPException(413, "Dokumen CAP terlalu besar. / The CAP document is too large.")
    return body


def decided(decision: alerts.Decision) -> dict[str, Any]:
    return {
        "action": decision.action,
        "relevant_to_region": decision.relevant_to_region,
        "alert": alerts.shown(decision.alert),
    }


@router.post("/alerts/cap", openapi_extra=CAP_BODY)
def receive_cap(ctx: CtxDep, db: DB, user: Supervisor, document: Annotated[bytes, Depends(xml_body)]) -> dict[str, Any]:
    message = parse(document)
    decision = alerts.ingest(
        session=db, geo_dir=ctx.region.pack.geo_dir, message=message, source="api", actor=user.username
    )
    return decided(decision)


@router.get("/alerts")
def list_alerts(db: DB, _user: Staff, all: bool = False) -> list[dict[str, Any]]:
    """Live alerts (neither cancelled nor expired), newest first; `all=true` adds the ended ones."""
    now = utcnow()
    return [alerts.shown(a, now=now) for a in alerts.listing(session=db, live_only=not all, now=now)]


@router.get("/alerts/{alert_id}")
def get_alert(alert_id: Id, db: DB, _user: Staff) -> dict[str, Any]:
    return alerts.shown(alerts.get(session=db, alert_id=alert_id))


@router.post("/alerts/{alert_id}/confirm")
def confirm_alert(alert_id: Id, db: DB, user: Supervisor) -> dict[str, Any]:
    """An alert without an area applies to the whole region once a supervisor confirms it."""
    return decided(alerts.confirm(session=db, alert_id=alert_id, user_id=user.id, actor=user.username))


def issuer(ctx: Ctx) -> cap.Issuer:
    pack = ctx.region.pack
    host = urlsplit(ctx.settings.public_url or "").hostname
    return cap.Issuer(
        sender=host or f"tanggap112-{pack.code}",
        center_name=f"Command Center 112 {pack.name}",
        region_name=pack.name,
        region_kode=pack.kode,
        timezone=pack.timezone,
    )


@router.get(
    "/incidents/{incident_id}/cap",
    response_class=Response,
    responses={200: {"content": {"application/xml": {"schema": {"type": "string"}}}}},
)
def incident_cap(incident_id: Id, ctx: CtxDep, db: DB, _user: Staff) -> Response:
    """The incident as CAP 1.2 for the public warning chain and neighbouring centers: no caller's data in it."""
    incident = incidents.get(session=db, incident_id=incident_id)
    sent = {a.unit_id for a in incidents.assignments(session=db, incident_id=incident_id) if a.status != "cancelled"}
    facts = cap.IncidentFacts.of(incident, units_sent=len(sent))
    body = cap.build(facts, issuer(ctx), now=utcnow())
    return Response(
        body,
        media_type="application/xml",
        headers={"Content-Disposition": f'inline; filename="incident-{incident_id}-cap.xml"'},
    )
