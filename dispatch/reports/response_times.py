"""Response-time intervals per call, incident and assignment, summarised per group against the standards.

Which records a period holds: calls offered in it (answering), incidents created in it (processing, total)
and the assignments of those incidents (turnout, travel). Incidents merged as duplicates are left out.
Grouped per agency, processing and total are measured to that agency's first unit (when was *it* notified,
when did *it* arrive); otherwise to the incident's first unit. Turnout and travel count every unit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Agency, Unit
from dispatch.calls.models import Call
from dispatch.incidents.models import Assignment, Incident
from dispatch.reports import standards
from dispatch.reports.fractiles import fractile, mean, share_within
from dispatch.reports.period import Period
from dispatch.reports.table import Table

By = Literal["all", "agency", "type", "kecamatan"]
GROUPINGS: tuple[By, ...] = ("all", "agency", "type", "kecamatan")
ALL = ("*", "")  # the group of everything (and of calls, which belong to no agency)
LONGEST_S = 7 * 24 * 3600.0

COLUMNS = (
    "group",
    "group_label",
    "interval",
    "n",
    "p50_s",
    "p90_s",
    "mean_s",
    "target_s",
    "goal_pct",
    "within_target_pct",
    "met",
    "target2_s",
    "goal2_pct",
    "within_target2_pct",
    "met2",
)


@dataclass(frozen=True)
class Sample:
    interval: str
    seconds: float
    limits: tuple[float, ...]  # one per goal of the interval
    group: tuple[str, str]  # (code, label)


@dataclass(frozen=True)
class _Unit:
    agency: tuple[str, str]
    kind: str


def response_times(*, session: Session, period: Period, by: By = "all") -> Table:
    rows = summarise(samples(session=session, period=period, by=by))
    return Table(COLUMNS, rows, {**period.meta(), "by": by, "standards": standards.describe()})


def samples(*, session: Session, period: Period, by: By = "all") -> list[Sample]:
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}")
    incidents = _incidents(session, period)
    calls = _calls(session, incidents)
    out = list(_answering(session, period, by))
    assignments = _assignments(session, list(incidents))
    units = _units(session, {a.unit_id for rows in assignments.values() for a in rows})
    for incident in incidents.values():
        linked = calls.get(incident.id, [])
        rows = assignments.get(incident.id, [])
        out.extend(_incident_samples(incident, linked, rows, units, by))
        for row in rows:
            unit = units[row.unit_id]
            group = unit.agency if by == "agency" else _group(incident, by)
            kind = unit.kind
            _add(out, "turnout", row.dispatched_at, row.en_route_at, standards.limits("turnout", kind), group)
            _add(out, "travel", row.en_route_at, row.on_scene_at, standards.limits("travel"), group)
    return out


def summarise(found: Iterable[Sample]) -> list[dict[str, Any]]:
    buckets: dict[tuple[tuple[str, str], str], list[Sample]] = defaultdict(list)
    for sample in found:
        buckets[(sample.group, sample.interval)].append(sample)
    order = {name: i for i, name in enumerate(standards.INTERVALS)}
    keys = sorted(buckets, key=lambda k: (k[0] != ALL, k[0][1].lower(), k[0][0], order[k[1]]))
    return [_row(group, interval, buckets[(group, interval)]) for group, interval in keys]


def _row(group: tuple[str, str], interval: str, found: list[Sample]) -> dict[str, Any]:
    seconds = [s.seconds for s in found]
    row: dict[str, Any] = {
        "group": group[0],
        "group_label": group[1],
        "interval": interval,
        "n": len(found),
        "p50_s": _round(fractile(seconds, 0.5)),
        "p90_s": _round(fractile(seconds, 0.9)),
        "mean_s": _round(mean(seconds)),
    }
    for i, goal in enumerate(standards.GOALS[interval][:2]):
        suffix = "" if i == 0 else "2"
        limits = {s.limits[i] for s in found}
        pct = share_within([(s.seconds, s.limits[i]) for s in found])
        row[f"target{suffix}_s"] = limits.pop() if len(limits) == 1 else None  # None: mixed (EMS and fire)
        row[f"goal{suffix}_pct"] = goal.goal_pct
        row[f"within_target{suffix}_pct"] = _round(pct)
        row[f"met{suffix}"] = None if pct is None else pct >= goal.goal_pct
    for column in COLUMNS:
        row.setdefault(column, None)
    return row


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _add(
    out: list[Sample],
    interval: str,
    start: datetime | None,
    end: datetime | None,
    limits: tuple[float, ...],
    group: tuple[str, str],
) -> None:
    if start is None or end is None:
        return
    seconds = (end - start).total_seconds()
    # A negative interval is a clock error, not a fast response; so is one of more than a week (a time dated
    # years ahead), which would otherwise be the whole mean.
    if 0 <= seconds <= LONGEST_S:
        out.append(Sample(interval, seconds, limits, group))


def _group(incident: Incident | None, by: By) -> tuple[str, str]:
    if incident is None or by in ("all", "agency"):
        return ALL
    if by == "type":
        return incident.type_code, incident.type.name_id
    return incident.kecamatan_code or "", incident.kecamatan or ""


def _incident_samples(
    incident: Incident, linked: list[Call], rows: list[Assignment], units: dict[int, _Unit], by: By
) -> list[Sample]:
    out: list[Sample] = []
    answered = min((c.answered_at for c in linked if c.answered_at is not None), default=None)
    offered = min((c.offered_at for c in linked), default=None)
    processing, total = standards.limits("processing"), standards.limits("total")
    if by != "agency":
        group = _group(incident, by)
        _add(out, "processing", answered, incident.dispatched_at, processing, group)
        _add(out, "total", offered, incident.on_scene_at, total, group)
        return out
    per_agency: dict[tuple[str, str], list[Assignment]] = defaultdict(list)
    for row in rows:
        per_agency[units[row.unit_id].agency].append(row)
    for agency, mine in per_agency.items():
        first_dispatch = min(r.dispatched_at for r in mine)
        first_on_scene = min((r.on_scene_at for r in mine if r.on_scene_at is not None), default=None)
        _add(out, "processing", answered, first_dispatch, processing, agency)
        _add(out, "total", offered, first_on_scene, total, agency)
    return out


def _incidents(session: Session, period: Period) -> dict[int, Incident]:
    rows = session.scalars(
        select(Incident).where(
            Incident.created_at >= period.start, Incident.created_at < period.end, Incident.duplicate_of.is_(None)
        )
    ).all()
    return {row.id: row for row in rows}


def _calls(session: Session, incidents: dict[int, Incident]) -> dict[int, list[Call]]:
    out: dict[int, list[Call]] = defaultdict(list)
    ids = list(incidents)
    for chunk in _chunks(ids):
        for call in session.scalars(select(Call).where(Call.incident_id.in_(chunk))):
            if call.incident_id is not None:
                out[call.incident_id].append(call)
    return out


def _answering(session: Session, period: Period, by: By) -> list[Sample]:
    rows = session.execute(
        select(Call.offered_at, Call.answered_at, Call.incident_id).where(
            Call.offered_at >= period.start, Call.offered_at < period.end, Call.answered_at.is_not(None)
        )
    ).all()
    linked: dict[int, Incident] = {}
    if by in ("type", "kecamatan"):
        ids = list({r.incident_id for r in rows if r.incident_id is not None})
        for chunk in _chunks(ids):
            linked.update({i.id: i for i in session.scalars(select(Incident).where(Incident.id.in_(chunk)))})
    out: list[Sample] = []
    limits = standards.limits("answering")
    for offered, answered, incident_id in rows:
        group = _group(linked.get(incident_id) if incident_id is not None else None, by)
        _add(out, "answering", offered, answered, limits, group)
    return out


def _assignments(session: Session, incident_ids: list[int]) -> dict[int, list[Assignment]]:
    out: dict[int, list[Assignment]] = defaultdict(list)
    for chunk in _chunks(incident_ids):
        for row in session.scalars(select(Assignment).where(Assignment.incident_id.in_(chunk))):
            out[row.incident_id].append(row)
    return out


def _units(session: Session, unit_ids: set[int]) -> dict[int, _Unit]:
    out: dict[int, _Unit] = {}
    for chunk in _chunks(list(unit_ids)):
        query = select(Unit.id, Agency.code, Agency.name, Agency.kind).join(Agency, Unit.agency_id == Agency.id)
        for unit_id, code, name, kind in session.execute(query.where(Unit.id.in_(chunk))):
            out[unit_id] = _Unit((code, name), kind)
    return out


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
