"""Logging, configured once: this package's loggers and uvicorn's at LOG_LEVEL, one format.

    2026-12-02 01:40:00.123 INFO churn_predictor.serve.app: Serving churn-predictor v3 ...

`log_config(level)` is the dictConfig the service hands to uvicorn (its `log_config`, so
every worker configures itself the same way); `configure(level)` applies it, for the
command-line tools and for what `make serve` says before uvicorn starts. Messages go to
stderr; the access log (one line per request) to stdout, as uvicorn does, written off the
event loop (serve/internals/access_log.py).
"""

import logging.config

PACKAGE = __package__
FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
LEVELS = ("critical", "error", "warning", "info", "debug")


def log_config(level: str = "info") -> dict:
    """A logging.config.dictConfig for LOG_LEVEL (one of LEVELS, any case)."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": FORMAT, "datefmt": DATE_FORMAT},
            # serve/internals/access_log.py formats its lines itself (time and level included).
            "as_is": {"format": "%(message)s"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "as_is",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            PACKAGE: {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
        },
    }


def configure(level: str = "info") -> None:
    """Configure logging as the service does: for the command-line tools."""
    logging.config.dictConfig(log_config(level))
