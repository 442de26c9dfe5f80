"""deploy/production's systemd units: valid for systemd, hardened (a dedicated user, no new
privileges, a read-only system with one writable state folder), checked by systemd's own tools."""
import pathlib
import re
import subprocess

import pytest

from conftest import BIN, REPO

UNITS = sorted((REPO / "deploy" / "production").glob("*.service"))
REQUIRED = ["User=wardline", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
            "PrivateDevices=yes", "CapabilityBoundingSet=", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
            "SystemCallFilter=@system-service", "UMask=0077", "KillSignal=SIGTERM", "Restart=always",
            "EnvironmentFile=/etc/wardline/wardline.env"]


def test_both_services_are_shipped():
    assert [u.name for u in UNITS] == ["wardline-serve.service", "wardline-worker.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_unit_is_valid_and_hardened(unit, tmp_path):
    text = unit.read_text()
    for line in REQUIRED:
        assert re.search(rf"^{re.escape(line)}$", text, re.M), f"{unit.name} lacks {line}"
    assert re.search(r"^StateDirectory=wardline(-worker)?$", text, re.M)
    # systemd checks that the program exists: point the copy at the binary the tests use.
    copy = tmp_path / unit.name
    copy.write_text(text.replace("/usr/local/bin/wardline", str(BIN)))
    verify = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(copy)], capture_output=True, text=True)
    level = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
    assert level, security.stdout[-2000:] + security.stderr
    assert float(level.group(1)) <= 2.0, f"{unit.name}: exposure {level.group(1)} (systemd rates below 2 as OK)"


def test_the_environment_example_holds_no_usable_secret():
    text = (REPO / "deploy" / "production" / "wardline.env.example").read_text()
    for key in ("WARDLINE_JWT_SECRET", "WARDLINE_MQTT_PASSWORD"):
        assert re.search(rf"^{key}=<[a-z]+>$", text, re.M), key
    assert "<password>@" in text
