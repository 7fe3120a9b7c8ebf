"""The running application's shared objects, built once from settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from dispatch.context import Policy, Region
from dispatch.db import make_engine, make_sessionmaker
from dispatch.events.bus import EventBus, InProcessBus
from dispatch.regions import load_pack


@dataclass
class Ctx:
    settings: Settings
    region: Region
    engine: Engine
    sessions: sessionmaker[Session]
    bus: EventBus


def policy_from(settings: Settings) -> Policy:
    return Policy(
        duplicate_radius_m=settings.duplicate_radius_m,
        duplicate_window=timedelta(minutes=settings.duplicate_window_min),
        abuse_threshold=settings.abuse_threshold,
        abuse_window=timedelta(hours=settings.abuse_window_hours),
        abuse_block=timedelta(hours=settings.abuse_block_hours),
        ack_timeout_s=settings.ack_timeout_s,
        clock_skew=timedelta(seconds=settings.clock_skew_s),
        priority_lead=timedelta(seconds=settings.queue_priority_lead_s),
    )


def make_bus(settings: Settings) -> EventBus:
    if settings.event_bus == "redis":
        from dispatch.events.redis_bus import RedisBus  # the Redis client only where it is used: faster restarts

        return RedisBus(settings.redis_url)
    return InProcessBus()


def build(settings: Settings, *, bus: EventBus | None = None, server: bool = False) -> Ctx:
    """`server`: a long-running process (SQLite's log is then checkpointed in the background, see
    `dispatch.db.WalCheckpointer`); command-line tools leave it to SQLite."""
    engine = make_engine(settings.sqlalchemy_url, background_checkpoint=server)
    bus = bus or make_bus(settings)
    region = Region(
        load_pack(settings.region_dir),
        policy_from(settings),
        road_graph=settings.road_graph,
        landmark_dir=settings.landmark_dir / settings.region,
    )
    sessions = make_sessionmaker(engine, bus)
    use_log = getattr(bus, "use_log", None)
    if use_log is not None:  # the Redis bus: what Redis did not bring is read from the log
        from dispatch.events.redis_bus import EventLog  # loads redis, which a server on the in-process bus never needs

        use_log(EventLog(sessions))
    return Ctx(settings, region, engine, sessions, bus)
