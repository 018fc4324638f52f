"""After sign-in or a form, the browser only ever goes to a path on this site."""

from __future__ import annotations

import pytest

from webapp.redirects import local_path


@pytest.mark.parametrize("target", ["/inbox/", "/console/instances?status=error&page=2", "/a/b#top"])
def test_local_paths_are_kept(target):
    assert local_path(target) == target


@pytest.mark.parametrize(
    "target",
    [
        "",
        None,
        "https://evil.com/",
        "//evil.com",
        "/\t/evil.com",
        "/\n/evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "evil.com",
        "javascript:alert(1)",
        "/" + "a" * 2001,
    ],
)
def test_anything_that_could_leave_the_site_is_refused(target):
    assert local_path(target) is None
