"""The monitor's errors and its exit codes (errors.py documents the shared ones)."""

from ..errors import BadInput

# Exit codes: 0 no drift, 1 drift, 2 bad input or settings (MonitorError), and this one
# for anything else: a crash must not read as "drift found" to cron or CI.
FAILED = 3


class MonitorError(BadInput, RuntimeError):
    """Bad input or settings for the monitor (no log, no reference, too few rows,
    MONITOR_ROWS=abc): exit code 2."""
