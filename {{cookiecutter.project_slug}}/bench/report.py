"""Turn bench_serve.py's measurements into medians, ratios and goals; print them."""

import os
import statistics

from load import has_wrk

BATCH_ROWS = 100
# The service's targets on a small (2-core) machine, as deployed (one worker, LOG_LEVEL=info,
# access log, request log and metrics on): see docs/benchmarks.md, "Why it is fast".
GOALS = {
    "service / floor at 16 connections": (">=", 0.6),
    "p99 at 16 connections (ms)": ("<=", 10),
    "p50 at 1 connection (ms)": ("<=", 0.8),
    "batch of 100: rows/s": (">=", 60_000),
    "WORKERS=2 / one worker at 16 connections": (">=", 1.6),
    "service / best peer at 16 connections": (">=", 6),
    "service / best peer, batches of 100": (">=", 3),
    "Predictor / onnxruntime run, one row": ("<=", 1.3),
    "cold start to ready in the image (s)": ("<=", 1.5),
}
# Where a goal was not measured in this run: how to measure it.
NOT_MEASURED = {
    "cold start to ready in the image (s)": "measured with --image (make bench-image)",
    "Predictor / onnxruntime run, one row": "the model serves without ONNX",
    "service / best peer at 16 connections": "measured with --peers (make bench-peers)",
    "service / best peer, batches of 100": "measured with --peers (make bench-peers)",
}
TWO_WORKERS = "coldstart WORKERS=2"
PEERS = ("BentoML pipeline", "BentoML ONNX", "BentoML ONNX tuned", "LitServe ONNX")


def medians(results: list[dict]) -> dict:
    return {
        "rps": statistics.median(r["rps"] for r in results),
        "p50_ms": statistics.median(r["p50"] for r in results),
        "p99_ms": statistics.median(r["p99"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "rounds": results,
    }


def summarize(args, metadata: dict, servers: list, measured: dict, memory: dict, local: dict):
    per_target = {
        server.name: {
            "cold_start_s": server.cold_start_s,
            "memory_per_worker_mb": memory[server.name],
            "points": {point: medians(runs) for point, runs in measured[server.name].items()},
        }
        for server in servers
    }
    for target in per_target.values():
        if "batch_100" in target["points"]:
            target["batch_rows_per_s"] = target["points"]["batch_100"]["rps"] * BATCH_ROWS
    bare_us = 1e6 / per_target["bare ASGI"]["points"]["predict_c16"]["rps"]
    floor = {"bare_asgi_us": bare_us, "prediction_us": local["predictor_1_us"]}
    floor["rps"] = 1e6 / (floor["bare_asgi_us"] + floor["prediction_us"])
    return {
        "model": {key: metadata.get(key) for key in ("name", "version", "model", "onnx")},
        "machine": {"cores": os.cpu_count()},
        "load_generator": "wrk" if has_wrk() else "python (lower bounds: install wrk)",
        "settings": {"duration_s": args.duration, "rounds": args.rounds, "workers": args.workers},
        # What each target ran with: "coldstart" is the service as the image and k8s/ run it.
        "target_settings": {server.name: server.settings for server in servers if server.settings},
        "in_process": local,
        "floor": floor,
        "targets": per_target,
        "ratios": ratios(per_target, floor, local),
        "goals": goals(per_target, floor, local),
    }


def best_peer(per_target: dict, point: str) -> tuple[str, float] | None:
    found = [
        (name, per_target[name]["points"][point]["rps"]) for name in PEERS if name in per_target
    ]
    found = [(name, rps) for name, rps in found if rps]
    return max(found, key=lambda pair: pair[1]) if found else None


def ratios(per_target: dict, floor: dict, local: dict) -> dict:
    ours = per_target["coldstart"]["points"]
    found = {"service / floor, 16 connections": ours["predict_c16"]["rps"] / floor["rps"]}
    for name, target in per_target.items():
        if name.startswith("coldstart "):
            found[f"{name} / floor, 16 connections"] = (
                target["points"]["predict_c16"]["rps"] / floor["rps"]
            )
    if TWO_WORKERS in per_target:
        found["WORKERS=2 / one worker, 16 connections"] = (
            per_target[TWO_WORKERS]["points"]["predict_c16"]["rps"] / ours["predict_c16"]["rps"]
        )
    if "image" in per_target:
        found["image / floor, 16 connections"] = (
            per_target["image"]["points"]["predict_c16"]["rps"] / floor["rps"]
        )
    for peer in ("mlflow models serve", *PEERS):
        if peer in per_target:
            theirs = per_target[peer]["points"]
            for point in ("predict_c1", "predict_c16", "batch_100"):
                # None where it answered nothing (its errors are in the table)
                found[f"service / {peer} req/s, {point}"] = (
                    ours[point]["rps"] / theirs[point]["rps"] if theirs[point]["rps"] else None
                )
    for rows in (1, BATCH_ROWS):
        if f"onnxruntime_run_{rows}_us" in local:
            found[f"Predictor / onnxruntime run, {rows} row(s)"] = (
                local[f"predictor_{rows}_us"] / local[f"onnxruntime_run_{rows}_us"]
            )
    return found


def goals(per_target: dict, floor: dict, local: dict) -> dict:
    ours = per_target["coldstart"]
    c16 = ours["points"]["predict_c16"]
    # Cold start counts in the image: that is what a deploy waits for (the local service also
    # loads scikit-learn to cross-check the ONNX graph, the ONNX-only image does not).
    started = per_target["image"]["cold_start_s"] if "image" in per_target else None
    single, batch = best_peer(per_target, "predict_c16"), best_peer(per_target, "batch_100")
    two = per_target.get(TWO_WORKERS)
    measured = {
        "service / floor at 16 connections": c16["rps"] / floor["rps"],
        "p99 at 16 connections (ms)": c16["p99_ms"],
        "p50 at 1 connection (ms)": ours["points"]["predict_c1"]["p50_ms"],
        "batch of 100: rows/s": ours["batch_rows_per_s"],
        "WORKERS=2 / one worker at 16 connections": (
            two["points"]["predict_c16"]["rps"] / c16["rps"] if two else None
        ),
        "service / best peer at 16 connections": c16["rps"] / single[1] if single else None,
        "service / best peer, batches of 100": (
            ours["points"]["batch_100"]["rps"] / batch[1] if batch else None
        ),
        "Predictor / onnxruntime run, one row": (
            local["predictor_1_us"] / local["onnxruntime_run_1_us"]
            if "onnxruntime_run_1_us" in local
            else None
        ),
        "cold start to ready in the image (s)": started,
    }
    result = {}
    for name, (sense, limit) in GOALS.items():
        value = measured[name]
        met = None if value is None else (value >= limit if sense == ">=" else value <= limit)
        result[name] = {"value": value, "goal": f"{sense} {limit}", "met": met}
    return result


def print_report(report: dict) -> None:
    model, floor = report["model"], report["floor"]
    print(
        f"\n{model['name']} v{model['version']} ({model['model']}, {report['in_process']['mode']}), "
        f"{report['settings']['workers']} worker(s), {report['machine']['cores']} cores, "
        f"load: {report['load_generator']}, {report['settings']['duration_s']:g} s per point, "
        f"{report['settings']['rounds']} round(s), load average "
        f"{report['machine']['load_average_before'][0]:.2f}"
    )
    print(
        f"\nFloor: bare ASGI request {floor['bare_asgi_us']:.0f} us + Predictor (one row) "
        f"{floor['prediction_us']:.0f} us = {floor['rps']:,.0f} req/s"
    )
    print("\nSettings (coldstart is the service as the image and k8s/ run it; others labelled)")
    for name, chosen in report["target_settings"].items():
        print(f"  {name:<36}" + " ".join(f"{key}={value}" for key, value in chosen.items()))
    print("\nRatios")
    for name, value in report["ratios"].items():
        print(f"  {name:<62}" + ("       -" if value is None else f"{value:8.2f}x"))
    print(f"\n  {'server':<36}{'request':>12}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, target in report["targets"].items():
        for point, r in target["points"].items():
            print(
                f"  {name:<36}{point:>12}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['errors']:>8}"
            )
    failed = sum(p["errors"] for t in report["targets"].values() for p in t["points"].values())
    if failed:
        print(f"\n  WARNING: {failed} requests failed (not 2xx): those figures measure errors.")
    print()
    for name, target in report["targets"].items():
        rows = target.get("batch_rows_per_s")
        memory = target["memory_per_worker_mb"]
        print(
            f"  {name:<36} cold start {target['cold_start_s']:5.2f} s"
            + (f", memory per worker {memory:5.0f} MB" if memory else "")
            + (f", batch {rows:,.0f} rows/s" if rows else "")
        )
    local = report["in_process"]
    print(
        "\n  in-process, one row: Predictor "
        f"{local['predictor_1_us']:.0f} us, onnxruntime run {local.get('onnxruntime_run_1_us', 0):.0f} us;"
        f" 100 rows: {local['predictor_100_us']:.0f} us, {local.get('onnxruntime_run_100_us', 0):.0f} us"
    )
    logged = report["access_log"]
    print(
        f"\n  access log: {logged['access_lines']} lines for {logged['requests_counted']:.0f} "
        "requests counted in /metrics (plus the /metrics request that counted them)"
    )
    for name, used in report["worker_cpu_s"].items():
        if len(used) > 1:
            shares = ", ".join(f"pid {pid}: {seconds:.1f} s" for pid, seconds in used.items())
            print(f"  {name}: CPU per worker during the run: {shares}")
    print("\nGoals (2-core machine, as deployed: one worker unless said)")
    for name, goal in report["goals"].items():
        missing = NOT_MEASURED.get(name, "not measured")
        verdict = {True: "met", False: "MISSED", None: f"n/a: {missing}"}[goal["met"]]
        value = "-" if goal["value"] is None else f"{goal['value']:,.2f}"
        print(f"  {name:<40}{value:>12}  goal {goal['goal']:<10} {verdict}")
