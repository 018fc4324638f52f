"""Demo data: fresh secrets every run, one user per staff role, registered applicants seeded once."""

from __future__ import annotations

from sqlalchemy import func, select

from models import AppUser, Permit, Person, ResidenceRegistration, db
from processes.channels import authenticate
from processes.demo import load_demo_data
from processes.roles import ROLES
from processes.users import check_password


def test_demo_data_is_repeatable_with_fresh_secrets(ctx):
    first = load_demo_data()
    second = load_demo_data()
    assert first.password != second.password and first.api_keys != second.api_keys
    users = db.session.execute(select(AppUser)).scalars().all()
    assert {u.role for u in users} == set(ROLES) - {"applicant"}
    assert all(check_password(second.password, u.password_hash) for u in users)
    assert authenticate(second.api_keys["suishenban"]).kind == "channel"
    assert authenticate(second.api_keys["ops"]).kind == "ops"
    counts = [
        db.session.execute(select(func.count()).select_from(m)).scalar_one()
        for m in (Person, ResidenceRegistration, Permit)
    ]
    assert counts == [24, 24, 12]
