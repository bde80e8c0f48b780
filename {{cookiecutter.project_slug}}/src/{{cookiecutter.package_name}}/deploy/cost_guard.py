"""The cost guard: the instance powers itself off at an absolute deadline, and so terminates.

The deadline (UTC) lives on the instance in /etc/coldstart/deadline. A small
script turns it into a systemd timer (`OnCalendar=<deadline> UTC`,
`Persistent=true`) and cloud-init's `bootcmd` runs that script first thing at
*every* boot, before any package is installed, so a reboot or a stop/start
re-arms the same deadline (and a deadline that passed while the machine was
off powers it off at once). It needs neither AWS nor the network.
`make extend HOURS=2` moves the deadline on the host; `make status` reads it there.
"""

import shlex
import textwrap
from datetime import UTC, datetime, timedelta

DEADLINE_FILE = "/etc/coldstart/deadline"
SCRIPT = "/usr/local/sbin/coldstart-cost-guard"
UNIT = "coldstart-cost-guard"
FORMAT = "%Y-%m-%d %H:%M:%S"  # what systemd's OnCalendar and `date -d` both read

# Re-arm from the deadline file (DEADLINE_FILE, UNIT). ROOT and SYSTEMCTL let a test run it
# outside a real boot.
ARM_SCRIPT = """\
#!/bin/sh
# coldstart cost guard: power off at the deadline in /etc/coldstart/deadline (UTC).
set -eu
root="${ROOT:-}"
systemctl="${SYSTEMCTL:-systemctl}"
deadline=$(cat "$root/etc/coldstart/deadline")
units="$root/etc/systemd/system"
mkdir -p "$units"
cat > "$units/coldstart-cost-guard.service" <<UNIT
[Unit]
Description=coldstart cost guard: the TTL is reached, power off (the instance then terminates)

[Service]
Type=oneshot
ExecStart=/usr/bin/systemctl poweroff
UNIT
cat > "$units/coldstart-cost-guard.timer" <<UNIT
[Unit]
Description=coldstart cost guard: power off at $deadline UTC

[Timer]
OnCalendar=$deadline UTC
Persistent=true
AccuracySec=1s

[Install]
WantedBy=timers.target
UNIT
if [ "$(date -u +%s)" -ge "$(date -u -d "$deadline UTC" +%s)" ]; then
    echo "coldstart cost guard: deadline $deadline UTC has passed, powering off"
    $systemctl --no-block poweroff
    exit 0
fi
$systemctl daemon-reload
$systemctl enable coldstart-cost-guard.timer
$systemctl restart coldstart-cost-guard.timer
echo "coldstart cost guard: armed for $deadline UTC"
"""


def deadline_after(hours: float, start: datetime | None = None) -> datetime:
    start = start or datetime.now(UTC)
    return (start + timedelta(hours=hours)).replace(microsecond=0)


def boot_command(deadline: datetime) -> str:
    """Shell for cloud-init's bootcmd: keep the recorded deadline, install the script, arm."""
    first = shlex.quote(deadline.strftime(FORMAT))
    return (
        f"mkdir -p /etc/coldstart\n"
        f"[ -s {DEADLINE_FILE} ] || echo {first} > {DEADLINE_FILE}\n"
        f"cat > {SCRIPT} <<'SCRIPT'\n{ARM_SCRIPT}SCRIPT\n"
        f"chmod 755 {SCRIPT}\n{SCRIPT}\n"
    )


def user_data(deadline: datetime, ssh_user: str) -> str:
    """cloud-init: arm the cost guard at every boot, then install and start Docker."""
    command = textwrap.indent(boot_command(deadline), " " * 4)
    return f"""#cloud-config
# bootcmd runs first, at every boot: the cost guard is armed before anything else.
bootcmd:
  - |
{command}package_update: true
packages:
  - docker
runcmd:
  - [systemctl, enable, --now, docker]
  - [usermod, -aG, docker, {ssh_user}]
"""


def read_deadline(text: str) -> datetime:
    return datetime.strptime(text.strip(), FORMAT).replace(tzinfo=UTC)


def extend_command(deadline: datetime) -> list[str]:
    """The command (run with sudo on the host) that moves the deadline and re-arms the timer."""
    value = shlex.quote(deadline.strftime(FORMAT))
    return ["sudo", "sh", "-c", f"echo {value} > {DEADLINE_FILE} && {SCRIPT}"]
