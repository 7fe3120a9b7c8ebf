"""The `tanggap` command line as an operator uses it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

TANGGAP = [sys.executable, "-m", "ui.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    full_env.pop("TANGGAP_DATABASE_URL", None)
    full_env.update(env)
    return subprocess.run([*TANGGAP, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120)


def test_demo_seeds_and_prints_logins(tmp_path: Path) -> None:
    r = run(["demo", "--region", "banggai", "--no-serve"], tmp_path, TANGGAP_DEMO_PASSWORD="sandi-demo-112")
    assert r.returncode == 0, r.stderr
    assert "password: sandi-demo-112" in r.stdout and "dispatcher" in r.stdout
    assert (tmp_path / "tanggap-banggai.db").exists() and not (tmp_path / "tanggap-padang.db").exists()
    again = run(["demo", "--region", "banggai", "--no-serve"], tmp_path, TANGGAP_DEMO_PASSWORD="sandi-demo-112")
    assert again.returncode == 0, again.stderr


def test_demo_serves_the_region_it_seeded(tmp_path: Path) -> None:
    """`scripts/run --region banggai` once seeded Banggai and then served Kota Padang."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TANGGAP_REGION": "padang"}
    env.pop("TANGGAP_DATABASE_URL", None)
    server = subprocess.Popen(
        [*TANGGAP, "demo", "--region", "banggai", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "the demo server exited"
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the demo server did not come up"
                time.sleep(0.2)
        assert health.json()["region"] == "banggai"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_second_region_is_refused_in_one_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'satu.db'}"
    assert run(["seed", "--region", "padang"], tmp_path, TANGGAP_DATABASE_URL=url).returncode == 0
    r = run(["seed", "--region", "banggai"], tmp_path, TANGGAP_DATABASE_URL=url)
    assert r.returncode == 2 and "another region" in r.stderr and "Kabupaten Banggai" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert run(["seed", "--region", "padang"], tmp_path, TANGGAP_DATABASE_URL=url).returncode == 0  # again: fine
    # Without a URL each region has its own file.
    assert run(["seed", "--region", "banggai"], tmp_path).returncode == 0
    assert (tmp_path / "tanggap-banggai.db").exists()


def test_bad_setting_is_a_readable_error(tmp_path: Path) -> None:
    r = run(["db", "upgrade"], tmp_path, TANGGAP_PORT="eighty", TANGGAP_REGION="jakarta")
    assert r.returncode == 2
    assert "TANGGAP_PORT" in r.stderr and "unknown region 'jakarta'" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("code,name,agency,lat,lon\nx1,Pos A,damkar,-0.9,100.4\nx2,Pos B,pemadam,-0.9,100.4\n", "unknown agency"),
        ("code,name,lat\n", "missing columns"),
        ("code,name,agency,lat,lon\nx1,Pos A,damkar,abc,100.4\n", "must be numbers"),
    ],
)
def test_import_stations_rejects_bad_files_whole(tmp_path: Path, content: str, message: str) -> None:
    assert run(["seed", "--region", "padang"], tmp_path).returncode == 0
    bad = tmp_path / "stations.csv"
    bad.write_text(content)
    r = run(["import", "stations", str(bad)], tmp_path)
    assert r.returncode == 2 and message in r.stderr


def test_import_stations_geojson(tmp_path: Path) -> None:
    assert run(["seed"], tmp_path).returncode == 0
    f = tmp_path / "posts.geojson"
    f.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point",'
        ' "coordinates": [100.35, -0.95]}, "properties": {"code": "damkar-pos-muaro", "name": '
        '"Pos Damkar Muaro", "agency": "damkar"}}]}'
    )
    r = run(["import", "stations", str(f)], tmp_path)
    assert r.returncode == 0 and "imported 1 stations" in r.stdout


def test_serve_knows_the_newest_migration_without_alembic() -> None:
    from alembic.script import ScriptDirectory

    from ui.cli import ALEMBIC_DIR, migration_heads

    assert migration_heads() == set(ScriptDirectory(str(ALEMBIC_DIR)).get_heads())


def test_serve_skips_alembic_only_at_the_newest_schema(database_url: str) -> None:
    """A restart skips loading alembic when the schema is at head; a new database, or one a migration behind,
    is migrated as before."""
    from sqlalchemy import create_engine, text

    from config.settings import Settings
    from ui.cli import at_head, upgrade

    settings = Settings(database_url=database_url, region="padang")
    assert not at_head(settings)  # no schema yet
    upgrade(settings)
    assert at_head(settings)
    engine = create_engine(settings.sqlalchemy_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    assert not at_head(settings)


def test_demo_simulate_serves_a_server_that_rings_calls(tmp_path: Path) -> None:
    """`scripts/run --simulate`: the flag reaches the server, which offers supervisors a call on demand."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TANGGAP_DEMO_PASSWORD": "sandi-demo-112"}
    env.pop("TANGGAP_DATABASE_URL", None)
    env.pop("TANGGAP_SIMULATE", None)
    server = subprocess.Popen(
        [*TANGGAP, "demo", "--simulate", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "the demo server exited"
            try:
                httpx.get(f"{url}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the demo server did not come up"
                time.sleep(0.2)
        login = {"username": "supervisor", "password": "sandi-demo-112"}
        token = httpx.post(f"{url}/api/v1/auth/token", json=login, timeout=10).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{url}/api/v1/region", headers=headers, timeout=5).json()["simulator"] is True
        rung = httpx.post(f"{url}/api/v1/demo/ring", json={"kind": "emergency"}, headers=headers, timeout=10)
        assert rung.status_code == 201 and rung.json()["provider"] == "simulator", rung.text
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert "Simulated calls ring every 20-60 s" in out
