"""The cost guard's re-arm script, run for real (systemd itself is replaced by a recorder).

What a reboot does on the instance is: cloud-init's bootcmd runs the script, the
script rewrites the timer from the deadline file and (re)starts it. Here the
script runs under a temporary root with SYSTEMCTL pointing at a script that
records its arguments, since no systemd runs in the tests; the timer's calendar
expression is checked with systemd-analyze where it is installed.
"""

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import yaml

from {{ cookiecutter.package_name }}.deploy.cost_guard import (
    ARM_SCRIPT,
    DEADLINE_FILE,
    FORMAT,
    UNIT,
    deadline_after,
    extend_command,
    read_deadline,
    user_data,
)


def arm(tmp_path, deadline: datetime) -> tuple[str, str]:
    """Write the deadline file and run the re-arm script; return (timer unit, systemctl calls)."""
    (tmp_path / DEADLINE_FILE.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / DEADLINE_FILE.lstrip("/")).write_text(deadline.strftime(FORMAT) + "\n")
    script, calls = tmp_path / "arm.sh", tmp_path / "systemctl.calls"
    script.write_text(ARM_SCRIPT)
    recorder = tmp_path / "systemctl"
    recorder.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    recorder.chmod(0o755)
    env = os.environ | {"ROOT": str(tmp_path), "SYSTEMCTL": str(recorder)}
    result = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    timer = (tmp_path / "etc/systemd/system" / f"{UNIT}.timer").read_text()
    return timer, calls.read_text() if calls.exists() else ""


def test_every_boot_re_arms_the_same_absolute_deadline(tmp_path):
    deadline = deadline_after(3)
    for _ in range(2):  # first boot, then a reboot: the same deadline, not "3 h from now" again
        timer, calls = arm(tmp_path, deadline)
        assert f"OnCalendar={deadline:%Y-%m-%d %H:%M:%S} UTC" in timer
        assert "Persistent=true" in timer and "WantedBy=timers.target" in timer
        assert f"enable {UNIT}.timer" in calls and f"restart {UNIT}.timer" in calls
    service = (tmp_path / "etc/systemd/system" / f"{UNIT}.service").read_text()
    assert "ExecStart=/usr/bin/systemctl poweroff" in service
    analyze = shutil.which("systemd-analyze")
    if analyze:
        result = subprocess.run(
            [analyze, "calendar", f"{deadline:%Y-%m-%d %H:%M:%S} UTC"],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0 and "Next elapse" in result.stdout, result.stderr


def test_a_deadline_that_passed_while_off_powers_off_at_boot(tmp_path):
    _, calls = arm(tmp_path, datetime.now(UTC) - timedelta(minutes=5))
    assert "--no-block poweroff" in calls and "restart" not in calls


def test_user_data_runs_the_guard_before_anything_else():
    deadline = deadline_after(4)
    config = yaml.safe_load(user_data(deadline, "ec2-user"))
    boot = config["bootcmd"][0]
    assert list(config)[0] == "bootcmd"
    assert deadline.strftime(FORMAT) in boot and ARM_SCRIPT in boot
    # An existing deadline (moved by `make extend`) is kept at reboot, never reset.
    assert f"[ -s {DEADLINE_FILE} ] ||" in boot


def test_extend_rewrites_the_deadline_and_re_arms():
    new = deadline_after(6)
    command = extend_command(new)
    assert command[:3] == ["sudo", "sh", "-c"]
    assert new.strftime(FORMAT) in command[3] and command[3].endswith("coldstart-cost-guard")
    assert read_deadline(new.strftime(FORMAT)) == new
