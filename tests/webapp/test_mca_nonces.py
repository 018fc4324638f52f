"""Finding 10: a nonce is refused the second time whichever app instance (process) sees it, without Redis too."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from models import db, utcnow
from models.mca import McaNonce
from processes.mca.nonces import DatabaseNonceStore, RedisNonceStore, nonce_store
from tests.webapp.mca_support import APP_ID, mca_fixture  # noqa: F401  (the `mca` fixture)


def test_two_app_instances_on_one_database_refuse_a_replay(mca, make_app):
    first, second = make_app(REDIS_URL="", JOB_MODE="eager"), make_app(REDIS_URL="", JOB_MODE="eager")
    for app in (first, second):
        assert isinstance(nonce_store(app.extensions["permitflow"]), DatabaseNonceStore)
    assert first.extensions["permitflow"] is not second.extensions["permitflow"]
    prepared = mca.client.prepare("house.fuzzyQuery", {"partialAddress": "田林路"})
    path = "/api/mca/v3/house.fuzzyQuery"
    accepted = first.test_client().post(path, data=prepared.body, headers=prepared.headers)
    assert accepted.status_code == 200 and accepted.json["code"] == "OK"
    replayed = second.test_client().post(path, data=prepared.body, headers=prepared.headers)
    assert replayed.status_code == 409 and replayed.json["code"] == "MCA_NONCE_REPLAYED"
    again = first.test_client().post(path, data=prepared.body, headers=prepared.headers)
    assert again.json["code"] == "MCA_NONCE_REPLAYED"
    with first.app_context():
        rows = db.session.execute(select(McaNonce).where(McaNonce.nonce_key == f"{APP_ID}:{prepared.nonce}"))
        assert len(rows.all()) == 1
        db.session.rollback()


def test_database_nonce_store_expires_and_purges(mca):
    with mca.app.app_context():
        store = DatabaseNonceStore()
        assert store.add("app:n-1", 60) and not store.add("app:n-1", 60)
        assert store.add("app:n-2", 60)
        # Backdate: an expired nonce no longer blocks, and the periodic purge removes expired rows.
        db.session.execute(McaNonce.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert store.add("app:n-1", 60)
        store._next_purge = 0.0
        assert store.add("app:n-3", 60)
        keys = db.session.execute(select(McaNonce.nonce_key).order_by(McaNonce.nonce_key)).scalars().all()
        assert keys == ["app:n-1", "app:n-3"]
        assert db.session.execute(select(func.count()).select_from(McaNonce)).scalar_one() == 2
        db.session.rollback()


def test_redis_url_selects_redis(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:6379/15")
    assert isinstance(nonce_store(app.extensions["permitflow"]), RedisNonceStore)
