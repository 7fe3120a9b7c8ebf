"""The major incident's port of a bridge in the server's own process: the major incident service on the call
desk's sessions. Apart from telephony/ari/choice.py because it loads the ORM, which `tanggap ari` never does."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import SQLAlchemyError

from dispatch.errors import DomainError
from dispatch.major import service as major
from telephony.ari.choice import MajorNow
from telephony.desk import DeskRefused, DeskUnavailable
from telephony.desk_local import InProcessDesk


class LocalMajor:
    def __init__(self, desk: InProcessDesk) -> None:
        self.desk = desk

    async def active(self) -> MajorNow | None:
        """On a thread of its own, not the writer's: a read that a burst of new calls must not hold back."""
        return await asyncio.to_thread(self._active_now)

    def _active_now(self) -> MajorNow | None:
        try:
            with self.desk.sessions() as session:
                found = major.active(session=session)
                return MajorNow(found.id, found.name, self.desk.region) if found is not None else None
        except SQLAlchemyError as exc:
            raise DeskUnavailable(f"major incident: {type(exc).__name__}") from exc

    async def choose(self, call_id: int, choice: int) -> None:
        actor = self.desk.actor
        try:
            await self.desk.run(
                lambda s: major.record_choice(session=s, call_id=call_id, choice=choice, actor=actor).id
            )
        except DomainError as exc:  # no such call: as the HTTP API's 404
            raise DeskRefused(exc.message) from exc
