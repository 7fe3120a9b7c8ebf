"""The whole API fuzzed (docs/security.md, "Input bounds"): every operation of /openapi.json, as an admin and as
nobody, on SQLite and PostgreSQL, with schemathesis's requests. First its coverage cases, the same every run: each
parameter and body field at and just past its bounds, of the wrong type, missing, extra (the outside test's
2^63 was one). Then a few generated requests per operation, valid ones and invalid ones (hypothesis,
derandomized: the same every run too). Any 5xx fails the test, with every request that got one; nothing is left
out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis.generation import GenerationMode

from config.settings import Settings

EXAMPLES = 3  # generated requests per operation and mode, beside the coverage cases
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
REFUSED = 10  # without a login, an operation that answers this many 401s in a row is not asked further
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],  # a failure is collected, not raised: nothing to shrink
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(name="settings")
def fuzz_settings(database_url: str) -> Settings:
    """Twilio configured, so that an unsigned webhook is refused (403) as in production rather than found
    unconfigured (503); a login fails once before its address is locked, so argon2 (a quarter of a CPU-second
    a check) runs once a run instead of for every generated login."""
    return Settings(
        database_url=database_url,
        region="padang",
        twilio_auth_token=SecretStr("fuzz-twilio-token"),
        login_lock_after=1,
        login_lock_after_address=1,
    )


def operations(schema: Any) -> list[Any]:
    # Logging out revokes the admin's token: last, or every operation after it would meet 401 only.
    found = [result.ok() for result in schema.get_all_operations()]
    return sorted(found, key=lambda op: op.path.endswith("/logout"))


def operation_takes_input(operation: Any) -> bool:
    """Whether there is anything to make invalid (hypothesis looks a while before it gives up otherwise)."""
    return bool(operation.path_parameters or operation.query or operation.headers or operation.body)


def coverage(schema: Any, operation: Any) -> Iterator[Any]:
    config = schema.config.generation_for(operation=operation, phase="coverage")
    yield from schema.iter_coverage_cases(operation, generation_modes=MODES, generation_config=config)


def sender(client: TestClient, headers: dict[str, str], found: list[str]) -> Callable[[Any], int]:
    """Sends a case and answers its status; a 5xx (or an exception, which would have been a 500) is noted."""

    def send(case: Any) -> int:
        request = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        body, sent = request.get("data"), dict(request.get("headers") or {})
        if request.get("cookies"):  # per-request cookies are deprecated in httpx (a warning, an error here)
            sent["cookie"] = "; ".join(f"{k}={v}" for k, v in request["cookies"].items())
        where = f"{case.method} {case.formatted_path} query={case.query} body={str(request.get('json', body))[:300]}"
        try:
            answer = client.request(
                request["method"],
                request["url"],
                params=request.get("params"),
                headers=sent,
                json=request.get("json"),
                content=body.encode() if isinstance(body, str) else body,
            )
        except Exception as exc:  # the server raised: TestClient re-raises what would have been a 500
            found.append(f"{where} -> {type(exc).__name__}: {exc}")
            return 500
        if answer.status_code >= 500:
            found.append(f"{where} -> {answer.status_code} {answer.text[:300]}")
        return answer.status_code

    return send


def fuzz(operation: Any, mode: GenerationMode, send: Callable[[Any], int]) -> None:
    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        send(case)

    try:
        run()
    except Unsatisfiable:  # nothing in this operation can be made invalid (no parameters, or only free text)
        pass


@pytest.mark.slow
@pytest.mark.parametrize("who", ["admin", "nobody"])
def test_no_request_gets_a_5xx(client: TestClient, make_user: Callable[..., str], who: str) -> None:
    client.app.state.sms_send = lambda to, text, callback: "SM-fuzz"  # type: ignore[attr-defined]  # no Twilio
    headers = {"Authorization": f"Bearer {make_user('admin')}"} if who == "admin" else {}
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    found: list[str] = []
    send = sender(client, headers, found)
    for operation in operations(schema):
        answers: list[int] = []
        for case in coverage(schema, operation):
            answers.append(send(case))
            if who == "nobody" and answers[-REFUSED:] == [401] * REFUSED:
                break  # refused before its input is read: the rest of its cases would meet the same 401
        if who == "nobody" and set(answers) == {401}:
            continue  # and so would generated ones
        for mode in MODES if operation_takes_input(operation) else MODES[:1]:
            fuzz(operation, mode, send)
    assert not found, f"{len(found)} requests got a 5xx:\n" + "\n".join(found[:40])
