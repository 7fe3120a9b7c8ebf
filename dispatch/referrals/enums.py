"""The follow-up lifecycle of a referral: referred -> in progress -> done / rejected."""

from __future__ import annotations

from enum import StrEnum

from dispatch.lifecycle import Machine


class ReferralStatus(StrEnum):
    referred = "referred"  # forwarded to the agency, no answer yet
    in_progress = "in_progress"  # the agency has taken it up
    done = "done"  # the agency reports it handled
    rejected = "rejected"  # the agency refused it (not theirs, not actionable)


R = ReferralStatus
REFERRAL = Machine(
    "referral",
    {
        R.referred: frozenset({R.in_progress, R.done, R.rejected}),
        R.in_progress: frozenset({R.done, R.rejected}),
    },
)

OPEN = frozenset({R.referred, R.in_progress})

# Which timestamp column each state stamps.
STAMP: dict[str, str] = {R.in_progress: "in_progress_at", R.done: "done_at", R.rejected: "rejected_at"}
