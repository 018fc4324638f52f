"""PostgreSQL: the server-side check of a one-statement engine step (processes/step_writes.py)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A step is written as one statement; when one of its guarded updates matched no row, raising here makes the
# whole statement (and so every row it wrote) fail. -1 means "not guarded in this step".
CREATE_CHECK = """
CREATE OR REPLACE FUNCTION permitflow_check_step(instance_rows bigint, task_rows bigint, job_rows bigint)
RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    IF instance_rows <> 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'PF409', MESSAGE = 'CONCURRENT_UPDATE';
    END IF;
    IF task_rows NOT IN (-1, 1) THEN
        RAISE EXCEPTION USING ERRCODE = 'PF409', MESSAGE = 'TASK_NOT_READY';
    END IF;
    IF job_rows NOT IN (-1, 1) THEN
        RAISE EXCEPTION USING ERRCODE = 'PF409', MESSAGE = 'JOB_TAKEN';
    END IF;
    RETURN 1;
END $$
"""


def upgrade() -> None:
    """Create permitflow_check_step() on PostgreSQL (SQLite checks row counts in Python)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE_CHECK)


def downgrade() -> None:
    """Drop permitflow_check_step()."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS permitflow_check_step(bigint, bigint, bigint)")
