"""Finding 19: staff files only as PDF/PNG/JPEG and sandboxed; a Content-Security-Policy on every page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models import db
from processes.served_files import FileTypeRefused, servable_mime
from tests.support import person as sim_person
from tests.webapp.auth_support import sign_in
from tests.webapp.test_inbox import audit_floor, cases  # noqa: F401  (fixtures)

TEMPLATES = Path(__file__).resolve().parents[2] / "webapp" / "templates"


def _store_photo(app, mime: str, content: bytes) -> None:
    from handlers.photo import PhotoStore
    from models import Person, Photo, utcnow
    from processes.domain.photos import store_root

    subject = sim_person("long", 0)
    with app.app_context():
        ref = PhotoStore(store_root()).put(content, "image/png")
        person = Person(id_number=subject.id_number, name=subject.name, gender="M", birth_date=utcnow().date())
        db.session.add(person)
        db.session.flush()
        db.session.add(
            Photo(
                person_id=person.id,
                source="counter",
                sm3=ref["sm3"],
                size=ref["size"],
                mime=mime,
                storage_key=ref["sm3"],
                taken_at=utcnow(),
            )
        )
        db.session.commit()


def test_served_files_are_sandboxed_and_typed(app, cases):  # noqa: F811
    _store_photo(app, "image/png", b"\x89PNG\r\n\x1a\nphoto")
    client = app.test_client()
    sign_in(client, "clerk01")
    task_id = cases["BK-XH0"]
    photo = client.get(f"/inbox/tasks/{task_id}/photo")
    assert photo.status_code == 200 and photo.mimetype == "image/png"
    assert photo.headers["Content-Security-Policy"].startswith("sandbox")
    assert photo.headers["X-Content-Type-Options"] == "nosniff"
    page = client.get(f"/inbox/tasks/{task_id}").get_data(as_text=True)
    licence_no = re.search(r'/licences/([^"]+)" target="licence-viewer"', page).group(1)
    document = client.get(f"/inbox/tasks/{task_id}/licences/{licence_no}")
    assert document.status_code == 200 and document.mimetype == "application/pdf"
    assert document.headers["Content-Security-Policy"].startswith("sandbox")
    assert document.headers["X-Content-Type-Options"] == "nosniff"


def test_a_photo_of_another_type_is_refused_in_chinese(app, cases):  # noqa: F811
    _store_photo(app, "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    client = app.test_client()
    sign_in(client, "clerk01")
    refused = client.get(f"/inbox/tasks/{cases['BK-XH0']}/photo")
    assert refused.status_code == 415 and b"<svg" not in refused.data
    assert "仅支持PDF、PNG、JPEG" in refused.get_data(as_text=True)


@pytest.mark.parametrize("mime", ["text/html", "image/svg+xml", "application/octet-stream", "", None])
def test_only_pdf_png_jpeg_are_servable(mime):
    with pytest.raises(FileTypeRefused) as caught:
        servable_mime(mime)
    assert caught.value.code == "FILE_TYPE_NOT_ALLOWED" and caught.value.status == 415
    assert servable_mime("application/PDF; charset=binary") == "application/pdf"
    assert servable_mime("image/jpg") == "image/jpeg"


def test_every_page_has_a_content_security_policy(app, cases):  # noqa: F811
    client = app.test_client()
    for path in ("/", "/auth/login"):
        answer = client.get(path)
        policy = answer.headers.get("Content-Security-Policy", "")
        assert (
            "default-src 'self'" in policy
            and "script-src 'self'" in policy
            and "unsafe-inline" not in policy.split("style-src")[0]
        )
        assert "frame-ancestors 'self'" in policy and answer.headers["X-Frame-Options"] == "SAMEORIGIN"
    sign_in(client, "clerk01")
    page = client.get(f"/inbox/tasks/{cases['BK-XH0']}")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert '<script src="/static/js/staff.js"></script>' in page.get_data(as_text=True)


def test_no_template_has_an_inline_script():
    """Inline script would be blocked by the policy: only <script src=...> and JSON data blocks are allowed."""
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and "application/json" not in tag:
                offenders.append(f"{template.relative_to(TEMPLATES)}: {tag}")
        if re.search(r"\son[a-z]+\s*=\s*[\"']", text) or "javascript:" in text:
            offenders.append(f"{template.relative_to(TEMPLATES)}: inline event handler")
    assert offenders == []
