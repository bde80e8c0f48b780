"""The serving machinery: faster or safer, never a different answer. Skip on a first reading.

serve/app.py is the FastAPI app (its routes, error answers and docs); what it calls from here
makes it fast, bounded and observable without changing one answer it gives. One thing to
know when you debug: the fast lane answers a plain, valid prediction before FastAPI sees
it, through the same answers.py, so a breakpoint in app.py's predict() stops only for the
requests it hands on (put it in answers.py to stop for every one). Each module names the
test that pins it (same answers, same errors) and the benchmark that measures it (`make bench`):

    fast_lane.py      a valid /predict answered without FastAPI's per-request work
                      (tests/serve/test_fast_lane.py; bench/bench_serve.py)
    limits.py         body size and slow-client deadlines (tests/serve/test_bad_input.py)
    metrics.py        Prometheus metrics, right across workers (tests/serve/test_app.py)
    request_log.py    every prediction to a JSON-lines file, off the event loop
    log_files.py      its files: rotation at LOG_MAX_MB, no row lost
                      (tests/serve/test_request_log.py, test_request_log_disk.py)
    access_log.py     uvicorn's access log written off the event loop (tests/serve/test_logs.py)
    drift.py          live drift in /metrics (tests/monitor/test_monitor.py)
    model_source.py   MODEL_URI -> a bundle folder (a path, or MLflow's registry)
    process.py        one thread per worker, and the garbage collector out of the way
    answers.py        the prediction routes' work, shared by both lanes
    wiring.py         wrap(): metrics and limits around the app, the fast lane in front

wiring.py's `wrap()` puts it around the app; app.py's calls here read `<module>.<name>` (metrics' by name:
/metrics is also a route's name).
This file imports nothing: the monitor and the image builder read model_source.py alone.
"""
