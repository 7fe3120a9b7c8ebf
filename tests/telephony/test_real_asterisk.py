"""Opt-in checks against a real Asterisk: TANGGAP_TEST_ARI_URL=http://pbx:8088 (user/password in
TANGGAP_TEST_ARI_USER / TANGGAP_TEST_ARI_PASSWORD, app tanggap112). With TANGGAP_TEST_ARI_ENDPOINT (for
example `Local/112@emergency`) a call is originated into the dialplan and must be offered by the bridge.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from telephony.ari.client import AriClient, AriNotFound

URL = os.environ.get("TANGGAP_TEST_ARI_URL")
pytestmark = [
    pytest.mark.real_asterisk,
    pytest.mark.skipif(not URL, reason="set TANGGAP_TEST_ARI_URL to run against a real Asterisk"),
]


def client() -> AriClient:
    assert URL
    return AriClient(
        URL,
        os.environ.get("TANGGAP_TEST_ARI_USER", "tanggap"),
        os.environ.get("TANGGAP_TEST_ARI_PASSWORD", ""),
        "tanggap112",
    )


async def test_rest_and_events_connection() -> None:
    ari = client()
    try:
        assert isinstance(await ari.channels(), list)
        with pytest.raises(AriNotFound):
            await ari.channel(f"no-such-{uuid.uuid4().hex}")
        bridge = f"tanggap-test-{uuid.uuid4().hex[:8]}"
        made = await ari.create_bridge(bridge, "mixing")
        assert made["id"] == bridge and made["bridge_type"] == "mixing"
        await ari.destroy_bridge(bridge)
        async with ari.events():
            pass
    finally:
        await ari.close()


@pytest.mark.skipif(not os.environ.get("TANGGAP_TEST_ARI_ENDPOINT"), reason="set TANGGAP_TEST_ARI_ENDPOINT")
async def test_a_call_enters_the_app_with_its_args() -> None:
    ari = client()
    try:
        async with ari.events() as stream:
            channel = f"tanggap-test-{uuid.uuid4().hex[:8]}"
            await ari._request(
                "POST",
                "/channels",
                endpoint=os.environ["TANGGAP_TEST_ARI_ENDPOINT"],
                extension="112",
                context="emergency",
                priority=1,
                channelId=channel,
                callerId="081234567890",
            )
            async with asyncio.timeout(10):
                async for event in stream:
                    if event["type"] == "StasisStart":
                        assert event["args"][0] == "incoming"
                        await ari.hangup(event["channel"]["id"])
                        break
    finally:
        await ari.close()
