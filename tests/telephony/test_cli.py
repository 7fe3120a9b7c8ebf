"""`tanggap ari` / `tanggap agi` refuse to start without a token for the API."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from telephony.cli import app


@pytest.mark.parametrize("command", ["ari", "agi"])
def test_needs_a_token(command: str) -> None:
    result = CliRunner().invoke(app, [command], env={"TANGGAP_API_TOKEN": ""})
    assert result.exit_code == 2 and "TANGGAP_API_TOKEN" in result.output
