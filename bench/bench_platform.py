"""Throughput of the registration slice: engine only versus the service layer with a database.

Usage: .venv/bin/python bench/bench_platform.py [--backend sqlite|postgresql|all] [--instances N]
           [--raw-instances N] [--samples N] [--aged-events N] [--json-out bench/results.json]

(a) raw: the engine alone, in process, no database: create, advance, a snapshot round trip at every wait
    state, the HRSS service task through `handlers.registry.dispatch`, the clerk's approval, completion.
(b) platform: the same work through `start_instance` (the eager job runner runs the HRSS job right after
    the commit) and `complete_task`, on a fresh SQLite or PostgreSQL database made for the run.
(c) fresh versus aged: one repeatable step (a clerk sends a looping review round back) timed on fresh
    instances and on one instance with >= 1,000 events from real steps.
The HRSS client is an in-process fake, so no figure includes network time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

# Run from a checkout without relying on the editable install's path mapping.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["LOG_LEVEL"] = "WARNING"

from platform_figures import (  # noqa: E402
    ROUNDS,
    best_rate,
    median_ms,
    merge_results,
    print_table,
    round_bounds,
    round_rates,
)
from platform_setup import (  # noqa: E402
    DATABASES,
    LOOP_KEY,
    PROCESS_KEY,
    SLICE_FILE,
    STAND_INS,
    FakeHrss,
    applicant,
    loop_bpmn,
    make_app,
    read_only,
    ready_tasks,
    slice_bpmn,
)

LOOP_BRANCHES = 4  # parallel looping user tasks in the aged-instance diagram (raised in main for long runs)
TIMED_BRANCH = "Task_review_1"  # the step timed on fresh and aged instances
REVIEW_ONCE_MORE = {"decision": "reject", "comment": "请补充材料后再审"}  # loops back in the loop diagram
CLERK_KWARGS = {"kind": "user", "name": "clerk01", "roles": ("clerk",)}


# -- (a) engine only --------------------------------------------------------------------------------------
def raw_slice() -> tuple[Callable[[int], int], set[str]]:
    """Engine only: a function running the i-th instance to completion (returns its step count).

    The diagram is parsed once; at each wait state the workflow makes a dump/load round trip, as the
    platform's snapshots do. Also returns the set of transactional operators that ran on stand-ins.
    """
    from handlers.registry import dispatch, registry
    from processes.engine.definitions import parse_process
    from processes.engine.runtime import Engine
    from processes.forms import load_forms
    from processes.platform import BPMN_DIR

    forms = load_forms(BPMN_DIR / "forms")
    operators = registry()
    parsed = parse_process(slice_bpmn(), SLICE_FILE, {}, operators, forms)
    specs = (parsed.spec, parsed.subprocess_specs)
    engine = Engine(lambda _definition_id: specs)
    clients = {"hrss": FakeHrss()}
    start_form, review_form = forms["registration_application"], forms["registration_review"]
    today = date.today().isoformat()
    stand_ins_used: set[str] = set()

    def call(operator: str, params: dict[str, Any]) -> dict[str, Any]:
        if operators[operator].transactional:
            stand_ins_used.add(operator)
            return STAND_INS[operator](**params)
        return dispatch(operator, params, clients)

    def one(i: int) -> int:
        data = {
            start_form.variable: start_form.validate(applicant(i)),
            "business_key": f"RAW-{i}",
            "submitted_on": today,
            "channel": "suishenban",
        }
        workflow = engine.create(1, data)
        waits = engine.advance(workflow)
        steps = 1
        while waits:
            workflow = engine.load(engine.dump(workflow, 1))  # the platform stores a snapshot at each wait
            [wait] = waits
            task = engine.task(workflow, wait.task_uuid)
            if wait.kind == "service":
                engine.run_service_task(workflow, task, call)
            elif wait.kind == "user" and wait.extensions.get("formKey") == review_form.key:
                engine.complete_user_task(
                    workflow, task, review_form.validate({"decision": "approve"}), review_form.variable
                )
            else:
                raise RuntimeError(f"the slice waits for something the benchmark does not drive: {wait}")
            waits = engine.advance(workflow)
            steps += 1
        assert workflow.completed
        engine.dump(workflow, 1)  # the platform stores the final snapshot too
        assert engine.data(workflow)["registration_status"] == "registered"
        return steps

    return one, stand_ins_used


# -- (b) through the service layer ------------------------------------------------------------------------
def bench_throughput(app: Any, raw_instances: int, instances: int) -> dict[str, Any]:
    """(a) and (b), interleaved: ROUNDS rounds, each running a share of the engine-only instances and then a
    share of the platform instances, so that both see the same machine (other work comes and goes)."""
    from sqlalchemy import func, select

    from models import ProcessEvent, ProcessInstance, db
    from processes.channels import register_client
    from processes.instances import start_instance
    from processes.platform import get_platform
    from processes.stepping import Actor
    from processes.tasks import complete_task

    raw_one, stand_ins = raw_slice()
    with app.app_context():
        platform = get_platform(app)
        client, _ = register_client(f"suishenban-{secrets.token_hex(3)}", "随申办移动端")
        channel = Actor(
            kind="channel", name=f"channel:{client.code}", channel_id=client.id, extra={"channel_code": "suishenban"}
        )
        clerk = Actor(**CLERK_KWARGS)
        runner = platform.jobs
        notify, notify_jobs = runner.notify, runner.notify_jobs
        phase = {"name": "start"}
        job_s: dict[str, float] = {"start": 0.0, "complete": 0.0}

        def timed(func: Callable[..., None]) -> Callable[..., None]:
            def run(*args: Any) -> None:  # service-task jobs run here (eager runner), timed apart
                t = time.perf_counter()
                func(*args)
                job_s[phase["name"]] += time.perf_counter() - t

            return run

        runner.notify, runner.notify_jobs = timed(notify), timed(notify_jobs)
        start_s: list[float] = []
        complete_s: list[float] = []
        ids: list[int] = []

        def one(i: int) -> None:
            phase["name"] = "start"
            t0 = time.perf_counter()
            instance, created = start_instance(platform, PROCESS_KEY, f"BK-{i:06d}", applicant(i), channel)
            t1 = time.perf_counter()
            [task_id] = ready_tasks(instance.id).values()  # the clerk's queue look-up: not timed
            phase["name"] = "complete"
            t2 = time.perf_counter()
            complete_task(platform, task_id, {"decision": "approve"}, clerk)
            t3 = time.perf_counter()
            read_only()
            done = db.session.get(ProcessInstance, instance.id, populate_existing=True)  # after the jobs
            assert created and done.status == "completed", (done.status, done.waiting_on)
            assert done.result["registration_status"] == "registered", done.result
            db.session.rollback()
            start_s.append(t1 - t0)
            complete_s.append(t3 - t2)
            ids.append(instance.id)

        raw_s: list[float] = []
        try:
            for i in range(20):  # warm-up: first-call costs are not throughput
                steps = raw_one(i)
            for i in range(10):
                one(i)
            start_s.clear(), complete_s.clear(), ids.clear()
            job_s.update(start=0.0, complete=0.0)
            gc.collect()
            raw_next, platform_next = 20, 10
            raw_bounds, platform_bounds = round_bounds(raw_instances), round_bounds(instances)
            for r in range(ROUNDS):
                for _ in range(raw_bounds[r + 1] - raw_bounds[r]):
                    t = time.perf_counter()
                    raw_one(raw_next)
                    raw_s.append(time.perf_counter() - t)
                    raw_next += 1
                for _ in range(platform_bounds[r + 1] - platform_bounds[r]):
                    one(platform_next)
                    platform_next += 1
        finally:
            runner.notify, runner.notify_jobs = notify, notify_jobs
        events = db.session.execute(
            select(func.count()).select_from(ProcessEvent).where(ProcessEvent.instance_id.in_(ids))
        ).scalar_one()
        db.session.rollback()
    total = sum(start_s) + sum(complete_s)
    platform_s = [a + b for a, b in zip(start_s, complete_s, strict=True)]
    raw_best, platform_best = best_rate(raw_s), best_rate(platform_s)
    paired = [raw / plat for raw, plat in zip(round_rates(raw_s), round_rates(platform_s), strict=True)]
    return {
        "raw_per_s": round(raw_best, 1),
        "raw_per_s_mean": round(len(raw_s) / sum(raw_s), 1),
        "ms_per_step_raw": round(1000 / raw_best / steps, 3),
        "raw_instances": raw_instances,
        "steps_per_instance": steps,
        "raw_stand_ins": sorted(stand_ins),
        "platform_per_s": round(platform_best, 1),
        "platform_per_s_mean": round(instances / total, 1),
        "ratio": round(raw_best / platform_best, 2),
        "ratio_paired_median": round(statistics.median(paired), 2),
        "ms_per_step_platform": round(1000 / platform_best / (events / instances), 3),
        "instances": instances,
        "platform_breakdown_ms": {  # mean per instance
            "start": round((sum(start_s) - job_s["start"]) * 1000 / instances, 3),
            "jobs_after_start": round(job_s["start"] * 1000 / instances, 3),
            "complete": round((sum(complete_s) - job_s["complete"]) * 1000 / instances, 3),
            "jobs_after_complete": round(job_s["complete"] * 1000 / instances, 3),
            "events_per_instance": round(events / instances, 2),
        },
    }


# -- (c) fresh versus aged --------------------------------------------------------------------------------
def single_loop_stall(max_rounds: int = 800) -> int | None:
    """Engine only: rounds of one self-looping user task after which the engine stops seeing it, or None."""
    from handlers.registry import registry
    from processes.engine.definitions import parse_process
    from processes.engine.runtime import Engine
    from processes.forms import load_forms
    from processes.platform import BPMN_DIR

    parsed = parse_process(
        loop_bpmn("bench_single_loop", 1), "bench_single_loop.bpmn", {}, registry(), load_forms(BPMN_DIR / "forms")
    )
    specs = (parsed.spec, parsed.subprocess_specs)
    engine = Engine(lambda _definition_id: specs)
    workflow = engine.create(1, {})
    waits = engine.advance(workflow)
    for done in range(max_rounds):
        if len(waits) != 1:
            assert not workflow.completed
            return done  # waiting for nothing, not completed: the instance would be stuck for good
        task = engine.task(workflow, waits[0].task_uuid)
        engine.complete_user_task(workflow, task, REVIEW_ONCE_MORE, "review")
        waits = engine.advance(workflow)
    return None


def engine_costs(app: Any, snapshot: str, public_id: str, rounds: int = 5) -> dict[str, float]:
    """Median ms of the engine parts of the timed step on a snapshot: load, complete+advance, dump."""
    from processes.platform import get_platform

    with app.app_context():
        engine = get_platform(app).engine
        load_s, step_s, dump_s = [], [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            workflow = engine.load(snapshot, public_id)
            t1 = time.perf_counter()
            [wait] = [w for w in engine.wait_states(workflow) if w.task_spec == TIMED_BRANCH]
            engine.complete_user_task(workflow, engine.task(workflow, wait.task_uuid), REVIEW_ONCE_MORE, "review")
            engine.advance(workflow)
            t2 = time.perf_counter()
            engine.dump(workflow, 1, public_id)
            t3 = time.perf_counter()
            load_s.append(t1 - t0)
            step_s.append(t2 - t1)
            dump_s.append(t3 - t2)
        tasks = len(engine.load(snapshot, public_id).tasks)
    return {
        "load": round(median_ms(load_s), 3),
        "complete_advance": round(median_ms(step_s), 3),
        "dump": round(median_ms(dump_s), 3),
        "tasks": tasks,
    }


def _loop_once(platform: Any, instance_id: int, task_spec: str) -> float:
    """Complete one round of a looping review (sent back); seconds spent in complete_task."""
    from processes.stepping import Actor
    from processes.tasks import complete_task

    task_id = ready_tasks(instance_id)[task_spec]  # the queue look-up: not timed
    t = time.perf_counter()
    _, instance = complete_task(platform, task_id, REVIEW_ONCE_MORE, Actor(**CLERK_KWARGS))
    elapsed = time.perf_counter() - t
    read_only()
    assert instance.status == "waiting", instance.status
    assert len(instance.waiting_on) == LOOP_BRANCHES, instance.waiting_on
    return elapsed


def fresh_step(platform: Any, i: int) -> tuple[float, Any]:
    """The timed step on a newly started instance (the start itself is not timed)."""
    from processes.instances import start_instance
    from processes.stepping import Actor

    instance, _ = start_instance(platform, LOOP_KEY, f"LOOP-NEW-{i:04d}", {}, Actor(kind="ops", name="ops"))
    return _loop_once(platform, instance.id, TIMED_BRANCH), instance


def build_aged(app: Any, aged_events: int) -> tuple[int, dict[str, float], float]:
    """One instance whose history reaches `aged_events` rows through real steps, spread over the looping
    tasks; returns (instance id, step ms sampled every 250 events, build seconds)."""
    from processes.instances import start_instance
    from processes.platform import get_platform
    from processes.stepping import Actor

    with app.app_context():
        platform = get_platform(app)
        started = time.perf_counter()
        aged, _ = start_instance(platform, LOOP_KEY, "LOOP-AGED", {}, Actor(kind="ops", name="ops"))
        curve: dict[str, float] = {}
        window: list[float] = []
        for n in range(1, aged_events):  # 'started' is event 1; each round adds one
            window.append(_loop_once(platform, aged.id, f"Task_review_{n % LOOP_BRANCHES + 1}"))
            if (n + 1) % 250 == 0:
                curve[str(n + 1)] = round(median_ms(window[-20:]), 3)
    return aged.id, curve, time.perf_counter() - started


def bench_aged(app: Any, samples: int, aged_events: int) -> dict[str, Any]:
    """Fresh-versus-aged figures: builds one instance with `aged_events` real steps, then times more steps."""
    from sqlalchemy import func, select

    from models import ProcessEvent, ProcessInstance, db
    from processes.platform import get_platform

    aged_id, curve, build_s = build_aged(app, aged_events)
    extra = {"aged_curve_ms": curve, "aged_build_s": round(build_s, 1)}
    with app.app_context():
        events = db.session.execute(
            select(func.count()).select_from(ProcessEvent).where(ProcessEvent.instance_id == aged_id)
        ).scalar_one()
        aged_row = db.session.get(ProcessInstance, aged_id)
        aged = (aged_row.snapshot, aged_row.public_id)
        db.session.rollback()
        assert events >= aged_events, events
        gc.collect()
        platform = get_platform(app)
        for i in range(5):  # warm-up
            fresh_step(platform, i)
        new_s: list[float] = []
        aged_s: list[float] = []
        for i in range(samples):  # alternating, so both see the same machine (other work comes and goes)
            elapsed, instance = fresh_step(platform, 5 + i)
            new_s.append(elapsed)
            aged_s.append(_loop_once(platform, aged_id, TIMED_BRANCH))
        fresh = (instance.snapshot, instance.public_id)
    new_engine, aged_engine = engine_costs(app, *fresh), engine_costs(app, *aged)
    return {
        "step_ms_new": round(median_ms(new_s), 3),
        "step_ms_aged": round(median_ms(aged_s), 3),
        "snapshot_bytes_new": len(fresh[0].encode("utf-8")),  # stored form: compressed and SM4-GCM-sealed
        "snapshot_bytes_aged": len(aged[0].encode("utf-8")),
        "tasks_new": new_engine.pop("tasks"),
        "tasks_aged": aged_engine.pop("tasks"),
        "aged_events": events,
        "new_engine_ms": new_engine,
        "aged_engine_ms": aged_engine,
        **extra,
    }


# -- driver ------------------------------------------------------------------------------------------------
def run_backend(name: str, extra: dict[str, Any], args: argparse.Namespace) -> dict[str, Any] | None:
    """All platform figures on one backend (None, with a message, when it is not reachable)."""
    from models import db

    load_before = round(os.getloadavg()[0], 2)
    with ExitStack() as stack:
        try:
            url, data_dir = stack.enter_context(DATABASES[name]())
        except OSError as exc:
            print(f"[{name}] skipped: {exc}")
            return None
        app = make_app(url, data_dir, FakeHrss(), LOOP_BRANCHES)
        print(f"[{name}] raw {args.raw_instances} and platform {args.instances} instances, interleaved …", flush=True)
        figures = bench_throughput(app, args.raw_instances, args.instances)
        print(f"[{name}] fresh vs aged ({args.aged_events} events built with real steps; median of {args.samples}) …")
        aged = bench_aged(app, args.samples, args.aged_events)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    result = {"backend": name, **figures, **aged, **extra}
    result["measured_on"] = time.strftime("%Y-%m-%d")
    result["load_avg_1m"] = [load_before, round(os.getloadavg()[0], 2)]  # other work on the machine skews figures
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table and write the JSON results."""
    global LOOP_BRANCHES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--instances", type=int, default=200, help="platform instances per backend (b)")
    parser.add_argument("--raw-instances", type=int, default=300, help="engine-only instances (a)")
    parser.add_argument("--samples", type=int, default=50, help="timed steps on fresh and aged instances (c)")
    parser.add_argument("--aged-events", type=int, default=1000, help="events of the aged instance (c)")
    parser.add_argument("--json-out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    if not 1 <= args.samples <= 300:
        parser.error("--samples must be between 1 and 300")
    # Without compaction each round would add two levels to a branch (see single_loop_stall); the branch
    # count is kept as it was when uncompacted runs were measured, so figures stay comparable.
    LOOP_BRANCHES = max(LOOP_BRANCHES, math.ceil(args.aged_events / (450 - args.samples)))

    started = time.perf_counter()
    load = os.getloadavg()[0]
    if load > 0.8:
        print(f"warning: load average {load:.1f} on {os.cpu_count()} cores: other work will lower the figures")
    extra = {"single_loop_stalls_after_rounds": single_loop_stall()}
    results = []
    for name in backends:
        result = run_backend(name, extra, args)
        if result is not None:
            results.append(result)
    if not results:
        print("no backend could be measured")
        return 1
    print_table(results)
    merge_results(args.json_out, results)
    print(f"\nwrote {args.json_out} ({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
