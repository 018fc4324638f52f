"""Demo data for `make run`: one user per role, the four channels plus an ops client, with printed secrets."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from integrations.simulators.dataset import population
from models import ChannelClient, Permit, Person, ResidenceRegistration, db, utcnow
from processes.auth_passwords import generate_password
from processes.channels import CHANNELS, api_key_digest, register_client
from processes.roles import ROLES
from processes.sms_templates import ensure_default_templates
from processes.unit_of_work import transaction
from processes.users import upsert_user

DEMO_ADDRESSES = (
    "上海市徐汇区田林路200号3号楼502室",
    "上海市徐汇区漕宝路88弄6号201室",
    "上海市徐汇区钦州北路1122号1203室",
)

DEMO_USERS = [
    ("clerk01", "张晓燕（徐汇区田林街道受理员）", "clerk", "XH-TL-01", "徐汇区"),
    ("clerk02", "李明（浦东新区花木街道受理员）", "clerk", "PD-HM-01", "浦东新区"),
    ("approver1", "王建国（业务审核）", "approver_l1", None, None),
    ("approver2", "陈静（中心复核）", "approver_l2", None, None),
    ("caller01", "刘芳（外拨专员）", "outbound_agent", None, None),
    ("analyst01", "赵磊（业务分析）", "analyst", None, None),
    ("operator01", "孙丽（数据运维）", "data_operator", None, None),
    ("sysadmin", "系统管理员", "sysadmin", None, None),
    ("secadmin", "安全管理员", "secadmin", None, None),
    ("auditadmin", "审计管理员", "auditadmin", None, None),
    # A second analyst: publishing is four-eyes, one analyst approves what another submitted.
    ("analyst02", "周敏（业务分析）", "analyst", None, None),
]


# Mobiles receiving the demo users' SMS sign-in codes (S2).
DEMO_MOBILES = {username: f"1390000{n:04d}" for n, (username, *_rest) in enumerate(DEMO_USERS, start=1)}


@dataclass
class DemoCredentials:
    """What `make run` prints."""

    password: str
    users: list[tuple[str, str, str]]
    api_keys: dict[str, str]
    ukey_dir: str | None = None
    mca_demo: dict[str, str] | None = None  # the demo MCA 3.0 caller app and its key files


def load_demo_data(password: str | None = None) -> DemoCredentials:
    """Create or refresh demo users and API clients; every run issues fresh secrets.

    Each demo user gets a mobile and a software-UKey key pair (private key in the demo key folder, public
    key registered). Never in production: there, accounts come only from the security administrator.
    """
    from processes.demo_ukeys import demo_key_dir, demo_ukey
    from processes.platform import get_platform

    settings = get_platform().settings
    if settings.PERMITFLOW_ENV == "production":
        raise RuntimeError("demo data is never loaded in production (no default accounts)")
    password = password or generate_password(settings)
    ensure_default_templates("demo-data")
    users = []
    key_dir = demo_key_dir(settings)
    for username, name, role, point, district in DEMO_USERS:
        public_pem = demo_ukey(key_dir, username)
        upsert_user(username, name, role, password, point, district, DEMO_MOBILES[username], public_pem)
        users.append((username, name, ROLES[role]))
    keys: dict[str, str] = {}
    for code, name in [*CHANNELS.items(), ("ops", "运维监控")]:
        kind = "ops" if code == "ops" else "channel"
        key = f"pf_demo_{code}_" + secrets.token_hex(8)
        with transaction():
            existing = db.session.execute(select(ChannelClient).where(ChannelClient.code == code)).scalar_one_or_none()
            if existing is not None:
                existing.api_key_digest, existing.active = api_key_digest(key), True
        if existing is None:
            register_client(code, name, kind, key)
        keys[code] = key
    seed_applicants()
    from processes.mca.demo import ensure_demo_app

    mca_demo = ensure_demo_app(get_platform())
    return DemoCredentials(password, users, keys, str(key_dir), mca_demo)


def seed_applicants(count: int = 24) -> int:
    """Registered applicants from the simulated population, half with an issued permit due for endorsement.

    Gives the demo something to work on (changes, reissue, the daily endorsement run); runs once.
    """
    with transaction():
        if db.session.execute(select(Person.id).limit(1)).first() is not None:
            return 0
        today = date.today()
        chosen = [p for p in population() if not p.deceased and not p.rare_name][:count]
        for n, sim in enumerate(chosen):
            person = Person(
                id_number=sim.id_number,
                name=sim.name,
                gender=sim.gender,
                birth_date=date.fromisoformat(sim.birth_date),
                mobile=sim.mobile,
            )
            db.session.add(person)
            db.session.flush()
            registered = today - timedelta(days=240)
            registration = ResidenceRegistration(
                number=f"DJDEMO{n:06d}",
                person_id=person.id,
                status="active",
                address=DEMO_ADDRESSES[n % 3],
                district="徐汇区",
                service_point="XH-TL-01",
                reason="employment",
                channel="channel_line",
                registered_on=registered,
                valid_until=registered + timedelta(days=3 * 365),
            )
            db.session.add(registration)
            db.session.flush()
            if n % 2 == 0:
                db.session.add(
                    Permit(
                        number=f"JZDEMO{n:06d}",
                        person_id=person.id,
                        registration_id=registration.id,
                        status="issued",
                        card_status="delivered",
                        valid_from=today - timedelta(days=345),
                        valid_until=today + timedelta(days=20),
                        issued_at=utcnow() - timedelta(days=340),
                        pickup="counter",
                    )
                )
    return len(chosen)
