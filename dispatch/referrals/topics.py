"""Complaint topics of a region pack (`topics.toml`): which agency takes a complaint, and when it is due."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dispatch.errors import Invalid


@dataclass(frozen=True)
class Topic:
    code: str
    name: str  # Bahasa Indonesia
    name_en: str
    keywords: str
    agency: str  # the code of the agency that takes it
    due_hours: int

    def due(self, referred_at: datetime) -> datetime:
        return referred_at + timedelta(hours=self.due_hours)


def load_topics(path: Path, agencies: set[str]) -> tuple[Topic, ...]:
    """The topics of `path` (none if there is no such file); each must name one of the pack's agencies."""
    if not path.is_file():
        return ()
    specs: list[dict[str, Any]] = tomllib.loads(path.read_text(encoding="utf-8")).get("topic", [])
    topics = tuple(_topic(path, spec, agencies) for spec in specs)
    codes = [t.code for t in topics]
    if len(set(codes)) != len(codes):
        raise Invalid(f"{path.name}: a topic code appears twice")
    return topics


def _topic(path: Path, spec: dict[str, Any], agencies: set[str]) -> Topic:
    try:
        topic = Topic(
            code=str(spec["code"]),
            name=str(spec["name"]),
            name_en=str(spec.get("name_en", spec["name"])),
            keywords=str(spec.get("keywords", "")),
            agency=str(spec["agency"]),
            due_hours=int(spec["due_hours"]),
        )
    except (KeyError, ValueError) as exc:
        raise Invalid(f"{path.name}: topic {spec.get('code', '?')!r} lacks or garbles {exc}") from None
    if topic.agency not in agencies:
        raise Invalid(f"{path.name}: topic {topic.code!r} names unknown agency {topic.agency!r}")
    if topic.due_hours < 1:
        raise Invalid(f"{path.name}: topic {topic.code!r} must be due in at least one hour")
    return topic
