"""Template hygiene checks that rendering tests can miss."""

from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "kechuang"


def test_title_blocks_hold_only_the_title():
    """A ``{% block title %}`` that is not closed on its line swallows page content into <title> (the
    browser then shows the markup as the tab's name and the content is missing from the page)."""
    bad = []
    for path in SRC.rglob("*.html"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "{% block title %}" in line and "{% endblock" not in line.split("{% block title %}", 1)[1]:
                bad.append(f"{path.relative_to(SRC)}:{n}")
    assert not bad, "title blocks not closed on their line:\n" + "\n".join(bad)
