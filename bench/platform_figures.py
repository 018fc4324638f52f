"""Figures of bench_platform.py: best-of-rounds rates, medians, the printed table and results.json."""

from __future__ import annotations

import json
import statistics
from itertools import pairwise
from pathlib import Path
from typing import Any

ROUNDS = 4  # throughput figures are the best of this many consecutive rounds (see best_rate)
OWN_KEYS = (
    "backend",
    "raw_per_s",
    "raw_per_s_mean",
    "platform_per_s_mean",
    "ratio_paired_median",
    "platform_per_s",
    "ratio",
    "step_ms_new",
    "step_ms_aged",
    "ms_per_step_raw",
    "ms_per_step_platform",
    "instances",
    "raw_instances",
    "steps_per_instance",
    "raw_stand_ins",
    "platform_breakdown_ms",
    "snapshot_bytes_new",
    "snapshot_bytes_aged",
    "aged_events",
    "aged_build_s",
    "aged_engine_ms",
    "new_engine_ms",
    "aged_curve_ms",
    "aged_copied_from",
    "tasks_new",
    "tasks_aged",
    "single_loop_stalls_after_rounds",
    "measured_on",
    "load_avg_1m",
)


def round_rates(seconds: list[float], rounds: int = ROUNDS) -> list[float]:
    """Items per second of each of `rounds` consecutive slices of per-item timings."""
    bounds = round_bounds(len(seconds), rounds)
    return [(hi - lo) / sum(seconds[lo:hi]) for lo, hi in pairwise(bounds) if hi > lo]


def round_bounds(count: int, rounds: int = ROUNDS) -> list[int]:
    """Where each of `rounds` near-equal consecutive slices of `count` items starts (and the end)."""
    return [count * k // rounds for k in range(rounds + 1)]


def best_rate(seconds: list[float], rounds: int = ROUNDS) -> float:
    """The fastest round: other work on a shared machine only ever slows a round down, so the best round
    is the closest to what the code costs (as in bench_crypto.py); the mean is reported next to it."""
    return max(round_rates(seconds, rounds))


def median_ms(samples: list[float]) -> float:
    """Median of seconds, in milliseconds."""
    return statistics.median(samples) * 1000


def merge_results(path: Path, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Update the per-backend objects in `path`, keeping keys that other benchmarks own."""
    existing: list[dict[str, Any]] = []
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            loaded = []
        existing = [o for o in loaded if isinstance(o, dict)] if isinstance(loaded, list) else []
    by_backend = {o.get("backend"): o for o in existing}
    for result in results:
        target = by_backend.get(result["backend"])
        if target is None:
            target = by_backend[result["backend"]] = {}
            existing.append(target)
        for key in OWN_KEYS:
            target.pop(key, None)
        target.update(result)
    path.write_text(json.dumps(existing, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return existing


def verdict(ok: bool) -> str:
    """'met' or 'NOT met'."""
    return "met" if ok else "NOT met"


def print_table(results: list[dict[str, Any]]) -> None:
    """A readable summary, with the targets."""
    header = (
        f"{'backend':<11}{'raw/s':>8}{'platform/s':>12}{'ratio':>7}"
        f"{'ms/step raw':>13}{'ms/step plat':>14}"
        f"{'step new ms':>13}{'step aged ms':>14}{'snap new B':>12}{'snap aged B':>13}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for r in results:
        print(
            f"{r['backend']:<11}{r['raw_per_s']:>8.1f}{r['platform_per_s']:>12.1f}{r['ratio']:>7.2f}"
            f"{r['ms_per_step_raw']:>13.3f}{r['ms_per_step_platform']:>14.3f}{r['step_ms_new']:>13.3f}"
            f"{r['step_ms_aged']:>14.3f}{r['snapshot_bytes_new']:>12,}{r['snapshot_bytes_aged']:>13,}"
        )
    for r in results:
        b, name = r["platform_breakdown_ms"], r["backend"]
        print(
            f"\n[{name}] per instance: start {b['start']:.2f} ms + its jobs {b['jobs_after_start']:.2f} ms, "
            f"clerk approval {b['complete']:.2f} ms + its jobs {b['jobs_after_complete']:.2f} ms "
            f"({b['events_per_instance']:g} steps)"
        )
        print(
            f"[{name}] throughput is the best of {ROUNDS} rounds; mean over all rounds: "
            f"raw {r['raw_per_s_mean']:.1f}/s, platform {r['platform_per_s_mean']:.1f}/s; "
            f"median of the per-round ratios {r['ratio_paired_median']:.2f}"
        )
        for label in ("new", "aged"):
            e = r[f"{label}_engine_ms"]
            print(
                f"[{name}] engine share of the step ({label}, {r[f'tasks_{label}']} tasks in the tree): "
                f"load {e['load']:.2f} ms, complete+advance {e['complete_advance']:.2f} ms, "
                f"dump {e['dump']:.2f} ms"
            )
        if "aged_curve_ms" in r:
            curve = ", ".join(f"{k} events {v:.1f} ms" for k, v in r["aged_curve_ms"].items()) or "-"
            print(f"[{name}] step cost while ageing: {curve} (built in {r['aged_build_s']} s)")
        else:
            print(f"[{name}] aged instance: rows copied from {r['aged_copied_from']} (built there by real steps)")
        growth = r["step_ms_aged"] / r["step_ms_new"] - 1
        print(
            f"[{name}] targets: platform_per_s >= 50 {verdict(r['platform_per_s'] >= 50)}; "
            f"ratio <= 4 {verdict(r['ratio'] <= 4)}; aged step within 20 % of new "
            f"{verdict(abs(growth) <= 0.20)} ({growth:+.0%})"
        )
    stall = results[0]["single_loop_stalls_after_rounds"]
    if stall is not None:
        print(
            f"\nengine: a single self-looping user task stops being seen after {stall} rounds "
            "(SpiffWorkflow's TaskIterator max_depth=1000): such an instance waits for nothing, for good."
        )
