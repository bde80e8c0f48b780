class MonitorError(RuntimeError):
    """Bad input for the monitor (no log, no reference, too few rows): exit code 2."""
