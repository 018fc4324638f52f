"""Background jobs: the outbox relay, in-process runners, RQ worker entry and the scheduler loop."""
