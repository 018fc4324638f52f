"""Functions that RQ workers import and call by name."""

from __future__ import annotations

from flask import current_app, has_app_context

_app = None


def _worker_app():
    global _app
    if has_app_context():
        return current_app._get_current_object()
    if _app is None:
        from webapp import create_app

        _app = create_app()
    return _app


def execute_outbox_job(job_id: int) -> str:
    """Run one outbox job inside the worker's app context."""
    from processes.jobs.runner import run_job
    from processes.platform import get_platform

    app = _worker_app()
    with app.app_context():
        return run_job(get_platform(app), job_id)
