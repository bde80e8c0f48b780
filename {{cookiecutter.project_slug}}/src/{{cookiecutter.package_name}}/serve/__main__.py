"""`make serve`: run the service with uvicorn, as the settings say (HOST, PORT, WORKERS, ...).

It takes no arguments (only settings), and runs in the image too, which carries no typer:
so no parser, but the same front door as every command (cli.run: a bad setting is one
line without its value, and exit 2).
"""

import logging
import os
import shutil
import tempfile
from functools import partial

from .. import cli

# Named after the module, not "__main__": the package's loggers are the ones configured.
log = logging.getLogger(f"{__package__}.main")


def announce(settings) -> None:
    """Say which model this will serve, before the slow part starts."""
    from ..contract.bundle import Bundle, BundleError

    try:
        metadata = Bundle.load(settings.model_uri).metadata
        log.info("Serving %s v%s from %s", metadata.name, metadata.version, settings.model_uri)
    except BundleError:  # a registry URI, or no bundle: the service itself explains on /readyz
        log.info("Serving MODEL_URI=%s", settings.model_uri)


def check_port_free(host: str, port: int) -> None:
    """A taken port is one line now, before the model loads, not uvicorn's log line after it."""
    import errno
    import socket

    from ..config import SettingsProblem

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as error:
            fix = (
                "another program listens there (an earlier make serve?): stop it, or serve "
                f"on another port: make serve PORT={port + 1} (and make predict PORT={port + 1})"
                if error.errno == errno.EADDRINUSE
                else "check HOST and PORT in .env or the environment"
            )
            raise SettingsProblem(
                f"Cannot listen on {host}:{port} ({error.strerror}): {fix}."
            ) from None


def connection_limits(settings) -> dict:
    """uvicorn's options that keep a slow or idle client from holding a connection for ever."""
    from .internals.limits import HeaderDeadlineProtocol

    return {
        "http": partial(HeaderDeadlineProtocol, header_timeout_s=settings.header_timeout_s),
        "timeout_keep_alive": settings.keep_alive_timeout_s,
        "limit_concurrency": settings.limit_concurrency,
    }


def main() -> None:
    # Before numpy or scikit-learn load: one OpenMP thread per worker process (tree models
    # open a thread pool on every predict; under concurrent requests one thread per process
    # is faster: scale with WORKERS instead). Training leaves it unset and uses every core.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    from ..logs import configure, log_config
    from .settings import ServeSettings

    settings = ServeSettings()
    configure(settings.log_level)
    # Never the API key: a SecretStr prints as stars, and is left out all the same.
    log.debug("Settings: %s", settings.model_dump(exclude={"api_key"}))
    check_port_free(settings.host, settings.port)
    announce(settings)
    own_metrics_dir = None
    if settings.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Let every worker write its metrics where /metrics can add them up.
        own_metrics_dir = tempfile.mkdtemp(prefix="prometheus-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_metrics_dir
    try:
        uvicorn.run(
            f"{__package__}.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level,
            # Each worker configures itself from this: the package's loggers at LOG_LEVEL too.
            log_config=log_config(settings.log_level),
            **connection_limits(settings),
        )
    finally:
        if own_metrics_dir is not None:  # ours alone: a folder set by the caller stays
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    cli.run(main)
