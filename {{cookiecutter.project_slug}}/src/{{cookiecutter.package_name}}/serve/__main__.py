"""`make serve`: run the service with uvicorn, as the settings say (HOST, PORT, WORKERS, ...)."""

import os
import tempfile


def main() -> None:
    # Before numpy or scikit-learn load: one OpenMP thread per worker process.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import uvicorn

    from .settings import ServeSettings

    settings = ServeSettings()
    if settings.workers > 1:
        # Let every worker write its metrics where /metrics can add them up.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="prometheus-"))
    uvicorn.run(
        f"{__package__}.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    main()
