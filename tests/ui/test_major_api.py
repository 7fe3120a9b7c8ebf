"""The major incident API: who may declare, stand down, file 'terkait' reports, count casualties and stage units
(ui/access.py), refusals as 4xx in Bahasa Indonesia first, the board, surge and shelters; and the
`tanggap shelters import` command."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.ui.test_cli import run

Headers = dict[str, dict[str, str]]
DECLARE = {"name": "Gempa Padang M7,2", "type_code": "earthquake", "kecamatan_codes": ["13.71.11"]}
TABING = {"lat": -0.878838, "lon": 100.348742}


def test_only_supervisors_declare_and_stand_down(client: TestClient, auth: Headers) -> None:
    for role in ("call_taker", "dispatcher", "responder", "telephony"):
        assert client.post("/api/v1/major", json=DECLARE, headers=auth[role]).status_code == 403, role
    assert client.post("/api/v1/major", json=DECLARE).status_code == 401
    r = client.post("/api/v1/major", json=DECLARE, headers=auth["supervisor"])
    assert r.status_code == 201, r.text
    major = r.json()
    assert (major["status"], major["kecamatan_codes"]) == ("active", ["13.71.11"])
    for role in ("call_taker", "dispatcher", "supervisor", "admin"):
        assert client.get("/api/v1/major/active", headers=auth[role]).json()["major"]["id"] == major["id"]
    assert client.get("/api/v1/major/active", headers=auth["responder"]).status_code == 403
    for role in ("call_taker", "dispatcher"):
        assert client.post(f"/api/v1/major/{major['id']}/stand-down", headers=auth[role]).status_code == 403
    again = client.post("/api/v1/major", json=DECLARE, headers=auth["admin"])
    assert again.status_code == 409 and again.json()["error"].startswith("Sudah ada insiden besar aktif")
    done = client.post(f"/api/v1/major/{major['id']}/stand-down", headers=auth["admin"])
    assert done.status_code == 200 and done.json()["status"] == "stood_down"
    assert client.get("/api/v1/major/active", headers=auth["call_taker"]).json() == {"major": None}
    assert [m["id"] for m in client.get("/api/v1/major", headers=auth["dispatcher"]).json()] == [major["id"]]


def test_refusals_are_4xx_in_bahasa_first(client: TestClient, auth: Headers) -> None:
    h = auth["supervisor"]
    cases = [
        ({**DECLARE, "type_code": "ufo"}, 422, "Jenis kejadian 'ufo' tidak dikenal. / Unknown incident type"),
        ({**DECLARE, "kecamatan_codes": ["72.01.04"]}, 422, "Kecamatan tidak dikenal di Kota Padang: 72.01.04"),
        ({"type_code": "earthquake"}, 422, "Beri nama insiden besar. / Give the major incident a name."),
        ({**DECLARE, "alert_id": 77}, 404, "Peringatan #77 tidak ada. / Alert 77 not found."),
    ]
    for body, status, words in cases:
        r = client.post("/api/v1/major", json=body, headers=h)
        assert r.status_code == status and words in r.json()["error"], r.text
    assert client.post("/api/v1/major", json={**DECLARE, "extra": 1}, headers=h).status_code == 422
    assert client.get("/api/v1/major/5", headers=h).json()["error"].startswith("Insiden besar #5 tidak ada.")
    r = client.post("/api/v1/major/5/reports", json={}, headers=auth["call_taker"])
    assert r.status_code == 404 and r.json()["error"].startswith("Insiden besar #5 tidak ada")
    assert client.get("/api/v1/major", headers=h).json() == []


def test_a_call_taker_files_terkait_and_a_dispatcher_sees_and_counts_it(client: TestClient, auth: Headers) -> None:
    major = client.post("/api/v1/major", json=DECLARE, headers=auth["supervisor"]).json()
    call = client.post("/api/v1/calls", json={"caller": "081234567890"}, headers=auth["call_taker"]).json()
    client.post(f"/api/v1/calls/{call['id']}/answer", headers=auth["call_taker"])
    body = {"call_id": call["id"], **TABING, "location_source": "map", "notes": "2 orang tertimbun"}
    key = {"Idempotency-Key": "terkait-0001"}
    r = client.post(f"/api/v1/major/{major['id']}/reports", json=body, headers={**auth["call_taker"], **key})
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["major_id"], report["type_code"], report["kecamatan"]) == (major["id"], "earthquake", "Koto Tangah")
    retry = client.post(f"/api/v1/major/{major['id']}/reports", json=body, headers={**auth["call_taker"], **key})
    assert retry.json()["id"] == report["id"]  # a retried key is the same report
    assert client.post(f"/api/v1/major/{major['id']}/reports", json=body, headers=auth["responder"]).status_code == 403
    triage = {"merah": 2, "kuning": 1}
    assert client.post(f"/api/v1/incidents/{report['id']}/triage", json=triage,
                       headers=auth["call_taker"]).status_code == 403  # fmt: skip
    r = client.post(f"/api/v1/incidents/{report['id']}/triage", json=triage, headers=auth["dispatcher"])
    assert r.json() == {"merah": 2, "kuning": 1, "hijau": 0, "hitam": 0}
    bad = client.post(f"/api/v1/incidents/{report['id']}/triage", json={"merah": -1}, headers=auth["dispatcher"])
    assert bad.status_code == 422
    units = client.get("/api/v1/units", headers=auth["dispatcher"]).json()
    bpbd = next(u for u in units if u["callsign"].startswith("BPBD"))
    stage = {"unit_id": bpbd["id"]}
    assert (
        client.post(f"/api/v1/major/{major['id']}/staging", json=stage, headers=auth["call_taker"]).status_code == 403
    )
    assert (
        client.post(f"/api/v1/major/{major['id']}/staging", json=stage, headers=auth["dispatcher"]).json()["staged_for"]
        == major["id"]
    )
    view = client.get(f"/api/v1/major/{major['id']}/board", headers=auth["call_taker"]).json()
    assert [s["id"] for s in view["sites"]] == [report["id"]] and view["triage"]["merah"] == 2
    assert view["kecamatan"][0]["kecamatan"] == "Koto Tangah"
    staged = [a for a in view["agencies"] if a["staged"]]
    assert [u["callsign"] for u in staged[0]["staged"]] == [bpbd["callsign"]]


def test_surge_proposals_shelters_and_the_public_message(client: TestClient, auth: Headers) -> None:
    for path in ("/api/v1/major/surge", "/api/v1/major/proposals"):
        assert client.get(path, headers=auth["dispatcher"]).status_code == 403
        assert client.get(path, headers=auth["supervisor"]).status_code == 200
    figures = client.get("/api/v1/major/surge", headers=auth["supervisor"]).json()
    assert len(figures["per_minute"]) == 60 and set(figures["by_choice"]) == {"1", "2", "3", "none"}
    near = client.get("/api/v1/major/shelters", params=TABING, headers=auth["call_taker"]).json()
    assert near[0]["name"] == "Shelter Nurul Haq (Komplek Jondul 4)" and near[0]["distance_m"] < 10
    assert (
        client.get("/api/v1/major/shelters", params={"lat": 91, "lon": 0}, headers=auth["call_taker"]).status_code
        == 422
    )
    major = client.post("/api/v1/major", json=DECLARE, headers=auth["supervisor"]).json()
    text = client.get(f"/api/v1/major/{major['id']}/information", params=TABING, headers=auth["call_taker"]).json()
    assert text["id"].startswith("Informasi keadaan darurat: Gempa Padang M7,2. Tempat evakuasi terdekat: Shelter")
    assert text["en"].startswith("Emergency information: Gempa Padang M7,2. Nearest evacuation points:")


def test_shelters_import_checks_every_row_then_replaces_the_packs_list(tmp_path: Path) -> None:
    own = tmp_path / "mine.csv"
    own.write_text("name,kind,lat,lon,source\nShelter Jakarta,shelter,-6.2,106.8,uji\n")
    r = run(["shelters", "import", str(own)], tmp_path)
    assert r.returncode == 2 and "Shelter Jakarta" in r.stderr and "outside Kota Padang" in r.stderr
    assert not (tmp_path / "landmarks" / "padang" / "shelters.csv").exists()
    own.write_text("# BPBD Kota Padang 2025\nname,kind,lat,lon\nShelter Uji,shelter,-0.95,100.36\n")
    r = run(["shelters", "import", str(own)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "1 shelters of mine.csv written" in r.stdout
    assert "Shelter Uji" in (tmp_path / "landmarks" / "padang" / "shelters.csv").read_text()
