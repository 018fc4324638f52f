"""The README documents every configuration key (so the table cannot drift from the code)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_setting():
    missing = [f.name for f in fields(Settings) if f"| `{f.name}` |" not in README]
    assert missing == []


def test_readme_shows_the_two_commands_first():
    assert README.index("make run") < README.index("Production stack")
    assert README.index("make test") < README.index("Production stack")
