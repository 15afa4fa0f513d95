"""``Translations``: gettext catalogs of flow texts, by locale (docs/i18n.md).

A flow's texts are their own message ids: the English source text is the ``msgid``, a
catalog gives the ``msgstr`` of each locale. Catalogs are the files ``pybabel`` makes
(``locales/<locale>/LC_MESSAGES/<domain>.po``, compiled to ``.mo``); the compiled file is
read when there is one, else the ``.po``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from flowhq.errors import FlowError

__all__ = ["BUILTIN_DOMAIN", "Translations", "builtin_translations", "normalize_locale"]

BUILTIN_DOMAIN = "flowhq"
"""The gettext domain of flowhq's own texts (re-asks, button labels, apologies)."""

_BUILTIN_DIRECTORY = Path(__file__).resolve().parent / "locales"


@functools.lru_cache(maxsize=256)
def normalize_locale(locale: str) -> str:
    """``pt-BR`` / ``pt_br`` -> ``pt_BR``; ``ES`` -> ``es`` (gettext's spelling)."""
    language, _, territory = locale.strip().replace("-", "_").partition("_")
    return f"{language.lower()}_{territory.upper()}" if territory else language.lower()


@functools.lru_cache(maxsize=256)
def _fallbacks(locale: str) -> tuple[str, ...]:
    """Where a locale looks for a text: itself, then its language (``pt_BR`` -> ``pt``)."""
    locale = normalize_locale(locale)
    language = locale.partition("_")[0]
    return (locale,) if language == locale else (locale, language)


def _messages(catalog: Catalog) -> dict[str, str]:
    """The translated, non-fuzzy messages of ``catalog`` (plural forms: the singular)."""
    found: dict[str, str] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string
        string = strings if isinstance(strings, str) else (strings[0] if strings else "")
        if string:
            found[msgid] = string
    return found


def _read(path: Path, locale: str) -> dict[str, str]:
    try:
        with path.open("rb") as file:
            catalog = read_mo(file) if path.suffix == ".mo" else read_po(file, locale=locale)
    except (OSError, ValueError, SyntaxError) as exc:
        raise FlowError(f"cannot read catalog {path}: {exc}") from None
    return _messages(catalog)


class Translations:
    """Translated texts by locale: each locale maps English message ids to its texts.

    Immutable once built; share one between Headquarters instances freely.

    Args:
        catalogs: Locale -> {message id -> translation}.
        sources: Locale -> the file each catalog was read from (for reports).
    """

    def __init__(
        self,
        catalogs: Mapping[str, Mapping[str, str]] | None = None,
        *,
        sources: Mapping[str, Path] | None = None,
    ) -> None:
        self._catalogs: Mapping[str, Mapping[str, str]] = MappingProxyType(
            {normalize_locale(k): MappingProxyType(dict(v)) for k, v in (catalogs or {}).items()}
        )
        self.sources: Mapping[str, Path] = MappingProxyType(dict(sources or {}))

    @classmethod
    def load(cls, directory: str | Path, *, domain: str = "messages") -> Translations:
        """Read ``<directory>/<locale>/LC_MESSAGES/<domain>.mo`` (else ``.po``) of each locale.

        Raises:
            FlowError: the directory does not exist, or a catalog cannot be read.
        """
        root = Path(directory)
        if not root.is_dir():
            raise FlowError(f"no such translations directory: {root}")
        catalogs: dict[str, dict[str, str]] = {}
        sources: dict[str, Path] = {}
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            messages = folder / "LC_MESSAGES"
            for suffix in (".mo", ".po"):
                path = messages / f"{domain}{suffix}"
                if path.is_file():
                    locale = normalize_locale(folder.name)
                    catalogs[locale] = _read(path, locale)
                    sources[locale] = path
                    break
        return cls(catalogs, sources=sources)

    @property
    def locales(self) -> tuple[str, ...]:
        """The locales with a catalog, sorted."""
        return tuple(sorted(self._catalogs))

    def catalog(self, locale: str) -> Mapping[str, str]:
        """The messages of ``locale`` (empty when it has no catalog)."""
        return self._catalogs.get(normalize_locale(locale), MappingProxyType({}))

    def lookup(self, locale: str, text: str) -> str | None:
        """``text`` translated into ``locale`` (or its language), or ``None``."""
        for candidate in _fallbacks(locale):
            found = self._catalogs.get(candidate, {}).get(text)
            if found:
                return found
        return None

    def gettext(self, locale: str, text: str) -> str:
        """``text`` translated into ``locale``, else ``text`` itself."""
        return self.lookup(locale, text) or text

    def __or__(self, other: Translations) -> Translations:
        """These translations, with ``other``'s filling the texts these lack."""
        merged: dict[str, dict[str, str]] = {}
        for source in (other, self):
            for locale in source.locales:
                merged.setdefault(locale, {}).update(source.catalog(locale))
        return Translations(merged, sources={**other.sources, **self.sources})

    def __repr__(self) -> str:
        return f"Translations(locales={list(self.locales)})"


@functools.cache
def builtin_translations() -> Translations:
    """The built-in texts in every locale flowhq ships (``es``, ``pt_BR``, ...)."""
    if not _BUILTIN_DIRECTORY.is_dir():  # an installation without the catalogs: English
        return Translations()
    return Translations.load(_BUILTIN_DIRECTORY, domain=BUILTIN_DOMAIN)


def shipped_locales() -> Iterable[str]:
    """The locales flowhq's own texts ship in (English is the source)."""
    return ("en", *builtin_translations().locales)
