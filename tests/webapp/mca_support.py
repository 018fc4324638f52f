"""MCA 3.0 test support: a registered caller app and the live app on a real HTTP server (werkzeug, a thread)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from integrations.crypto import SM2PrivateKey
from integrations.mca_v3_client import McaV3Client

APP_ID = "mca-test-app"
MCA_TABLES = ("mca_submission", "mca_call_audit", "mca_app", "mca_nonce", "mca_audit_checkpoint")


@dataclass
class Mca:
    """The app under test, its URL, the registered caller's key and a reference client."""

    app: object
    url: str
    app_key: SM2PrivateKey
    server_pem: bytes
    server_key_id: str
    client: McaV3Client

    def audit_rows(self) -> list:
        """Every audit row, oldest first."""
        from models import db
        from models.mca import McaCallAudit

        with self.app.app_context():
            db.session.rollback()
            rows = db.session.execute(db.select(McaCallAudit).order_by(McaCallAudit.id)).scalars().all()
            db.session.expunge_all()
            return list(rows)

    def other_client(self, app_id: str = APP_ID, key: SM2PrivateKey | None = None) -> McaV3Client:
        """A client with another app id or key (for refusals)."""
        return McaV3Client(self.url, app_id, key or self.app_key, self.server_pem, server_key_id=self.server_key_id)


def clean_mca_tables(app) -> None:
    """Empty the MCA tables (TRUNCATE on PostgreSQL: the audit's trigger refuses row deletes)."""
    from models import db

    with app.app_context():
        db.session.rollback()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"TRUNCATE {', '.join(MCA_TABLES)} RESTART IDENTITY"))
        else:
            for table in MCA_TABLES:
                db.session.execute(text(f"DELETE FROM {table}"))
        db.session.execute(text("UPDATE mca_audit_head SET seq = 0, last_mac = ''"))  # the chain starts again
        db.session.commit()


@pytest.fixture(name="mca")
def mca_fixture(app) -> Iterator[Mca]:
    """A registered app and the live app served over HTTP on a loopback port."""
    from processes.mca.apps import register_app
    from processes.platform import get_platform

    key = SM2PrivateKey.generate()
    with app.app_context():
        register_app(APP_ID, "民政3.0测试应用", key.public_key().to_pem())
        key_id, pem = get_platform(app).keys.public_key_pem("mca")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    client = McaV3Client(url, APP_ID, key, pem, server_key_id=key_id)
    try:
        yield Mca(app, url, key, pem, key_id, client)
    finally:
        server.shutdown()
        thread.join(5)
        clean_mca_tables(app)
