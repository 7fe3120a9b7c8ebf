"""The deployment samples in config/systemd and config/nginx: the settings a 112 center relies on are there, the
commands they run exist in our CLI, and the real tools (systemd-analyze, nginx -t) accept them when present."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from config.settings import Settings
from ui.cli import app

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "config" / "systemd"
NGINX = ROOT / "config" / "nginx" / "tanggap.conf"
INSTALLED = "/opt/tanggap/.venv/bin/tanggap"
SERVERS = ("tanggap.service", "tanggap@.service")
DAEMONS = (*SERVERS, "tanggap-ari.service")


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((SYSTEMD / name).read_text().replace("\\\n", " "))
    return parser


def tanggap_commands(name: str) -> list[list[str]]:
    """Every `tanggap ...` invocation in the unit's ExecStart, as argv after the program."""
    exec_start = unit(name)["Service"]["ExecStart"]
    return [shlex.split(m) for m in re.findall(rf"{re.escape(INSTALLED)} ([^;']+)", exec_start)]


@pytest.mark.parametrize("name", DAEMONS)
def test_daemons_come_back_and_are_confined(name: str) -> None:
    service, section = unit(name)["Service"], unit(name)["Unit"]
    assert service["Restart"] == "always" and service["RestartSec"] == "1"
    assert section["StartLimitIntervalSec"] == "0"  # never "start request repeated too quickly"
    assert service["EnvironmentFile"].startswith("/etc/tanggap/")
    assert service["User"] == "tanggap"
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""


@pytest.mark.parametrize("name", SERVERS)
def test_servers_can_write_their_data_dir(name: str) -> None:
    service = unit(name)["Service"]
    assert service["StateDirectory"] == "tanggap" and service["WorkingDirectory"] == "/var/lib/tanggap"


def test_backup_unit_writes_the_data_and_backup_dirs_and_a_timer_starts_it() -> None:
    service = unit("tanggap-backup.service")["Service"]
    assert service["Type"] == "oneshot" and service["ProtectSystem"] == "strict"
    assert set(service["ReadWritePaths"].split()) == {"/var/lib/tanggap", "/var/backups/tanggap"}
    assert service["UMask"] == "0077"  # backups hold callers' numbers
    timer = unit("tanggap-backup.timer")["Timer"]
    assert timer["OnCalendar"] == "hourly" and timer["Persistent"] == "true"


def test_the_bridge_takes_its_token_from_the_environment_file() -> None:
    (argv,) = tanggap_commands("tanggap-ari.service")
    assert argv[0] == "ari" and "--token" not in argv  # a token on the command line is visible in `ps`


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("tanggap.service", ["serve"]),
        ("tanggap@.service", ["serve", "--port", "%i"]),
        ("tanggap-ari.service", ["ari", "--api-url", "${TANGGAP_API_URL}"]),
        ("tanggap-backup.service", ["backup", "$$file"]),
    ],
)
def test_exec_start_runs_commands_our_cli_has(name: str, expected: list[str]) -> None:
    (argv,) = tanggap_commands(name)
    assert argv == expected
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    # What systemd and the shell substitute, then click parses it as it would: an unknown option fails.
    real = {"%i": "8112", "${TANGGAP_API_URL}": "http://127.0.0.1:8112", "$$file": "/tmp/tanggap.backup"}
    group.commands[argv[0]].make_context(argv[0], [real.get(a, a) for a in argv[1:]])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    program = shutil.which("tanggap", path=str(Path(sys.executable).parent))
    assert program, "the tanggap entry point is installed in the venv"
    for path in SYSTEMD.iterdir():
        (tmp_path / path.name).write_text(path.read_text().replace(INSTALLED, program))
    (tmp_path / "tanggap@8112.service").write_text((tmp_path / "tanggap@.service").read_text())
    names = ["tanggap.service", "tanggap@8112.service", "tanggap-ari.service"]
    names += ["tanggap-backup.service", "tanggap-backup.timer"]
    done = subprocess.run(
        ["systemd-analyze", "verify", *names], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


# --- nginx ---------------------------------------------------------------------------------------------------


def test_proxy_limits_bodies_like_the_server() -> None:
    conf = NGINX.read_text()
    (size,) = re.findall(r"^\s*client_max_body_size (\d+)k;", conf, re.MULTILINE)
    assert int(size) * 1024 == Settings.model_fields["max_body_bytes"].default


@pytest.mark.parametrize("path", ["/ws", "/api/v1/telephony/calls/stream"])
def test_websockets_are_upgraded_and_kept_open(path: str) -> None:
    conf = NGINX.read_text()
    block = re.search(rf"location = {re.escape(path)} \{{(.*?)\n    \}}", conf, re.DOTALL)
    assert block, f"no location for {path}"
    assert "proxy_read_timeout 1h;" in block.group(1) and "proxy_pass http://tanggap;" in block.group(1)
    assert "proxy_set_header" not in block.group(1)  # else the server-level headers (Upgrade) are not inherited
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $tanggap_connection;" in conf


def test_only_twilio_webhooks_are_sent_again_after_a_server_took_them() -> None:
    """A POST that reached a server that then died goes to the other server only for Twilio's webhooks, which are
    idempotent by CallSid/MessageSid; any other POST may have written, and its client retries with a key."""
    conf = NGINX.read_text()
    twilio = re.search(r"location /telephony/twilio/ \{(.*?)\n    \}", conf, re.DOTALL)
    assert twilio and "proxy_pass http://tanggap;" in twilio.group(1)
    assert re.search(r"proxy_next_upstream [^;]*non_idempotent;", twilio.group(1))
    directives = [line for line in conf.splitlines() if not line.lstrip().startswith("#")]
    assert sum("non_idempotent" in line for line in directives) == 1


def test_the_proxied_paths_are_the_apps() -> None:
    from ui import stream
    from ui.routes import offer_stream, system, telephony

    routers = (stream.router, offer_stream.router, system.router)
    paths = {getattr(route, "path", None) for router in routers for route in router.routes}
    assert {"/ws", "/api/v1/telephony/calls/stream", "/healthz"} <= paths
    twilio = {getattr(route, "path", "") for route in telephony.router.routes} - {None}
    assert {"/telephony/twilio/voice", "/telephony/twilio/status"} <= twilio


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx)")
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed (for a test certificate)")
def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    """`nginx -t` against a prefix of our own: nothing of the system's nginx is read, written or started."""
    (tmp_path / "logs").mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=tanggap.test", "-days", "1",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    conf = NGINX.read_text()
    conf = conf.replace("/etc/ssl/certs/ssl-cert-snakeoil.pem", str(tmp_path / "cert.pem"))
    conf = conf.replace("/etc/ssl/private/ssl-cert-snakeoil.key", str(tmp_path / "key.pem"))
    conf = conf.replace("/var/log/nginx/", f"{tmp_path}/logs/")
    directives = "\n".join(line for line in conf.splitlines() if not line.lstrip().startswith("#"))
    assert "/etc/" not in directives and "/var/" not in directives  # nothing of the system's nginx
    (tmp_path / "tanggap.conf").write_text(conf)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  access_log off;\n  include {tmp_path}/tanggap.conf;\n}}\n"
    )
    done = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-e", f"{tmp_path}/logs/error.log", "-c", str(tmp_path / "nginx.conf")],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
