"""Stop what the harness started, by PID: politely first, then for sure."""

import subprocess


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM (servers clean up: dockerd stops its containers), then SIGKILL past `timeout`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
