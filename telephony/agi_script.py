"""The classic AGI form of `triage`: Asterisk runs `AGI(tanggap-triage)` (this module) with stdin/stdout.

For a PBX on the same host as the database. Prefer FastAGI (`AGI(agi://HOST:4573/triage)`, served by
`tanggap serve` or `tanggap agi`): no process start per call.
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta

from asterisk.agi import AGIException, AGIResultHangup

from config.settings import Settings, load_settings
from dispatch.calls import intake
from dispatch.calls.intake import Triage
from dispatch.context import Policy
from dispatch.db import make_engine, make_sessionmaker
from telephony.agi import TanggapAGI, triage_session

log = logging.getLogger(__name__)


def policy_of(settings: Settings) -> Policy:
    return Policy(
        abuse_threshold=settings.abuse_threshold,
        abuse_window=timedelta(hours=settings.abuse_window_hours),
        abuse_block=timedelta(hours=settings.abuse_block_hours),
    )


def main() -> int:
    settings = load_settings()
    # Runs on the main thread, where pyst2 may install its SIGHUP handler (AGISIGHUP=yes hang-ups).
    agi = TanggapAGI(sys.stdin, sys.stdout, install_sighup=True)
    engine = make_engine(settings.sqlalchemy_url)
    sessions = make_sessionmaker(engine, None)

    def lookup(caller: str | None) -> Triage:
        with sessions() as session:
            return intake.triage(session=session, caller=caller, policy=policy_of(settings))

    try:
        triage_session(agi, lookup)
    except AGIResultHangup:
        pass  # expected when the caller hangs up during triage
    except AGIException as exc:
        log.warning("AGI triage ended: %s", type(exc).__name__)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
