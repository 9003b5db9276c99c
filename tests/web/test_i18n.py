"""Every UI string has a Chinese and an English translation; pages render in Chinese by default and in
English on request (``?lang=en``, then remembered in the ``lang`` cookie)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from kechuang.core.i18n import LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"N_": None, "_": None, "gettext": None, "ngettext": (1, 2)}


def extracted_msgids() -> set[str]:
    """Message ids in the source and templates now (``make i18n`` runs the same extraction)."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    ids: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "src"), method_map, options_map, keywords=KEYWORDS
    ):
        for part in message if isinstance(message, tuple) else (message,):
            if part:
                ids.add(part)
    return ids


def translations(locale: str) -> dict[str, str]:
    """msgid → msgstr of the catalog, non-fuzzy, non-empty only."""
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    out: dict[str, str] = {}
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for i, msgid in enumerate(ids):
            s = strings[min(i, len(strings) - 1)]
            if s:
                out[msgid] = s
    return out


def test_every_msgid_is_translated_in_both_languages():
    ids = extracted_msgids()
    assert len(ids) > 200
    for locale in ("zh", "en"):
        have = translations(locale)
        missing = sorted(ids - have.keys())
        assert not missing, f"untranslated in {locale} (run `make i18n` and translate):\n" + "\n".join(missing)


def test_chinese_translations_keep_the_placeholders():
    import re

    zh = translations("zh")
    for msgid, msgstr in zh.items():
        assert sorted(re.findall(r"\{[^}]*\}", msgid)) == sorted(re.findall(r"\{[^}]*\}", msgstr)), msgid


def test_pages_are_chinese_by_default_and_english_on_request(client_as):
    client = client_as(None)
    zh = client.get("/login", headers={"accept": "text/html"})
    assert '<html lang="zh-CN">' in zh.text and "登录" in zh.text and "用户名" in zh.text
    en = client.get("/login?lang=en", headers={"accept": "text/html"})
    assert '<html lang="en">' in en.text and "Log in" in en.text and "Username" in en.text and "用户名" not in en.text
    switched = client.get("/lang/en?next=/login", headers={"accept": "text/html"}, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    assert "lang=en" in switched.headers["set-cookie"]
    remembered = client.get("/login", headers={"accept": "text/html"})
    assert '<html lang="en">' in remembered.text
