"""The platform benchmark runs as the README says and writes the figures issue 2 names (no timing asserted)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "bench_platform.py"
REQUIRED = ("raw_per_s", "platform_per_s", "ratio", "step_ms_new", "step_ms_aged")


def _figures_module():
    spec = importlib.util.spec_from_file_location("platform_figures", ROOT / "bench" / "platform_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _backend() -> str:
    return "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgresql") else "sqlite"


def test_a_short_run_writes_every_named_figure_and_keeps_other_benchmarks_keys(tmp_path):
    results = tmp_path / "results.json"
    backend = _backend()
    results.write_text(json.dumps([{"backend": backend, "web_mean_s": 0.4, "ratio": -1}]), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--backend", backend, "--instances", "8", "--raw-instances", "8",
         "--samples", "2", "--aged-events", "40", "--json-out", str(results)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "targets: platform_per_s >= 50" in run.stdout
    [figures] = json.loads(results.read_text(encoding="utf-8"))
    assert figures["backend"] == backend and figures["web_mean_s"] == 0.4  # another benchmark's key survives
    for key in REQUIRED:
        assert isinstance(figures[key], float) and figures[key] > 0, (key, figures[key])
    assert figures["steps_per_instance"] == 3 and figures["instances"] == 8
    assert figures["aged_events"] >= 40 and figures["tasks_aged"] <= figures["tasks_new"] + 8
    assert figures["single_loop_stalls_after_rounds"] is None  # a self-loop keeps running past 800 rounds
    assert figures["raw_stand_ins"] == []  # the frozen slice: engine-only and platform do the same work


def test_rates_are_per_round_and_the_best_round_counts():
    figures = _figures_module()
    seconds = [0.1] * 4 + [0.2] * 4 + [0.05] * 4 + [0.1] * 4  # four rounds of four items
    assert figures.round_bounds(16) == [0, 4, 8, 12, 16]
    assert [round(r, 6) for r in figures.round_rates(seconds)] == [10.0, 5.0, 20.0, 10.0]
    assert figures.best_rate(seconds) == pytest.approx(20.0)
    assert figures.median_ms([0.003, 0.001, 0.002]) == pytest.approx(2.0)


def test_merging_replaces_this_benchmarks_keys_per_backend_and_adds_new_backends(tmp_path):
    figures = _figures_module()
    path = tmp_path / "results.json"
    path.write_text(json.dumps([{"backend": "sqlite", "ratio": 9, "aged_copied_from": "x", "p1": 1}]), "utf-8")
    merged = figures.merge_results(path, [{"backend": "sqlite", "ratio": 3.1}, {"backend": "postgresql", "ratio": 3.5}])
    assert merged == [{"backend": "sqlite", "p1": 1, "ratio": 3.1}, {"backend": "postgresql", "ratio": 3.5}]
    assert json.loads(path.read_text("utf-8")) == merged
    path.write_text("not json", "utf-8")
    assert figures.merge_results(path, [{"backend": "sqlite", "ratio": 1.0}]) == [{"backend": "sqlite", "ratio": 1.0}]
