"""The serving process, tuned: one thread per worker, the garbage collector out of the way.

Pinned by tests/serve/test_app.py (the service answers the same) and measured by
bench/bench_serve.py (`make bench`: latency at 16 connections).
"""

import gc


def limit_threads_to_one() -> None:
    """Where scikit-learn serves, cap its OpenMP and BLAS pools at one thread per worker.

    Tree models open an OpenMP pool per predict call; under concurrent requests that
    thrashes two cores. One thread per worker; scale with WORKERS instead.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a lean ONNX-only image: onnxruntime is set to one thread already
        return
    threadpool_limits(1)


def freeze_what_is_loaded() -> None:
    """Move everything loaded so far (libraries, the model) out of the collector's sight.

    It lives as long as the process; frozen, the collector's full passes stay short (fewer
    latency spikes under load). Collect first: frozen garbage would never be freed.
    """
    gc.collect()
    gc.freeze()
