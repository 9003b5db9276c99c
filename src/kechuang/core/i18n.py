"""Message catalogs (Babel ``.po`` files under ``web/locale``) and the current locale.

Source strings are English message ids; ``zh`` is the default locale. Catalogs are read straight from
the ``.po`` files at first use, so no compile step is needed to run or test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

from kechuang.config import settings

LOCALES = ("zh", "en")
LOCALE_DIR = Path(__file__).resolve().parents[1] / "web" / "locale"
DOMAIN = "messages"

_current: ContextVar[str] = ContextVar("kechuang_locale", default=settings.language)


def normalize_locale(value: str | None) -> str:
    """Map 'zh-CN', 'zh_Hans', 'en-US'... onto a supported locale; default to the configured one."""
    if not value:
        return settings.language
    v = value.strip().lower().replace("_", "-")
    for loc in LOCALES:
        if v == loc or v.startswith(loc + "-"):
            return loc
    return settings.language


def get_locale() -> str:
    """The locale of the current request or command."""
    return _current.get()


def set_locale(locale: str) -> None:
    """Set the locale for the current context (request middleware, CLI start-up)."""
    _current.set(normalize_locale(locale))


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Temporarily switch the locale."""
    token = _current.set(normalize_locale(locale))
    try:
        yield
    finally:
        _current.reset(token)


@lru_cache(maxsize=4)
def catalog(locale: str) -> dict[str, str]:
    """msgid -> msgstr for ``locale`` (empty and fuzzy translations are left out)."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        cat = read_po(fh, locale=locale.replace("zh", "zh_Hans_CN") if locale == "zh" else locale)
    out: dict[str, str] = {}
    for msg in cat:
        if not msg.id or msg.fuzzy:
            continue
        if isinstance(msg.id, tuple):
            if isinstance(msg.string, tuple) and msg.string[0]:
                out[msg.id[0]] = msg.string[0]
                out[msg.id[1]] = msg.string[-1]
            continue
        if msg.string:
            out[msg.id] = msg.string
    return out


def gettext(message: str, locale: str | None = None, **params: object) -> str:
    """Translate ``message`` into ``locale`` (default: current) and format ``{name}`` params."""
    text = catalog(locale or get_locale()).get(message, message)
    return text.format(**params) if params else text


def ngettext(singular: str, plural: str, n: int, locale: str | None = None, **params: object) -> str:
    """Plural-aware translation; Chinese has one form."""
    msg = singular if n == 1 else plural
    params.setdefault("num", n)
    return gettext(msg, locale, **params)


def N_(message: str) -> str:
    """Mark a message id for extraction without translating it now."""
    return message


_ = gettext
