"""Alembic migrations; `permitflow db upgrade` applies them."""
