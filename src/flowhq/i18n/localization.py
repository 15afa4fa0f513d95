"""The conversation's language and time zone, and where they come from (docs/i18n.md)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import frozen
from babel import Locale, UnknownLocaleError

from flowhq.errors import InputError
from flowhq.i18n.catalogs import Translations, builtin_translations, normalize_locale
from flowhq.messaging.key import ConversationKey

__all__ = [
    "DEFAULT_LOCALE",
    "Languages",
    "LocaleOf",
    "Localization",
    "checked_language",
    "known_locale",
    "time_zone",
]

logger = logging.getLogger("flowhq.i18n")

DEFAULT_LOCALE = "en"
"""The locale of a flow that declares none: flows are written in English."""

LocaleOf = Callable[[ConversationKey], "str | None"]
"""``locale_of(key)``: a conversation's locale (e.g. from the phone's country), or ``None``."""


def time_zone(value: str | tzinfo | None) -> tzinfo:
    """A time zone from an IANA name (``"Europe/Madrid"``) or a ``tzinfo``; ``None`` is UTC.

    Raises:
        ValueError: an unknown name.
    """
    if value is None:
        return UTC
    if isinstance(value, tzinfo):
        return value
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None


@functools.lru_cache(maxsize=256)
def known_locale(locale: str) -> bool:
    """Whether Babel knows ``locale`` (dates and numbers can be shown in it)."""
    try:
        Locale.parse(normalize_locale(locale))
    except (ValueError, TypeError, UnknownLocaleError):
        return False
    return True


def checked_language(locale: str | None, timezone: str | None) -> dict[str, str]:
    """The ``locale`` and ``timezone`` values ``initialize`` saves, checked.

    Raises:
        InputError: a locale Babel does not know, or an unknown time zone.
    """
    changes: dict[str, str] = {}
    if locale is not None:
        if not known_locale(locale):
            raise InputError(f"unknown locale {locale!r}")
        changes["locale"] = normalize_locale(locale)
    if timezone is not None:
        try:
            time_zone(timezone)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        changes["timezone"] = timezone
    return changes


@frozen
class Localization:
    """One conversation's language and time (a ``flowhq.state.manager.Speech``).

    Attributes:
        locale: The conversation's locale.
        timezone: Its time zone.
        clock: What tells the time (aware, any zone).
        translations: The team's catalogs; flowhq's own texts fill what they lack.
    """

    locale: str = DEFAULT_LOCALE
    timezone: tzinfo = UTC
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    translations: Translations | None = None

    def now(self) -> datetime:
        """The current time in the conversation's time zone."""
        return self.clock().astimezone(self.timezone)

    def gettext(self, text: str) -> str:
        """``text`` in the conversation's language: the team's catalog, else flowhq's."""
        if self.translations is not None:
            found = self.translations.lookup(self.locale, text)
            if found:
                return found
        return builtin_translations().gettext(self.locale, text)


class Languages:
    """Where each conversation's locale and time zone come from (``Headquarters`` settings).

    The locale is, first found: the conversation's saved ``locale`` value (set by
    ``initialize(locale=...)``, or saved by a language ``Choice`` named ``locale``),
    ``locale_of(key)``, the flow's ``locale``. The time zone: a saved ``timezone`` value
    (an IANA name), else ``timezone``.

    Args:
        translations: The team's catalogs (``Translations.load("locales/")``).
        locale_of: ``key -> locale or None``.
        timezone: The default time zone (an IANA name or a ``tzinfo``; default UTC).
    """

    def __init__(
        self,
        *,
        translations: Translations | None = None,
        locale_of: LocaleOf | None = None,
        timezone: str | tzinfo | None = None,
    ) -> None:
        self.translations = translations
        self.locale_of = locale_of
        self.timezone = time_zone(timezone)

    def localization(
        self,
        key: ConversationKey,
        values: Mapping[str, Any],
        *,
        default: str | None,
        clock: Callable[[], datetime],
    ) -> Localization:
        """The localization of the conversation ``key`` whose saved values are ``values``."""
        return Localization(
            self._locale(key, values, default), self._zone(values), clock, self.translations
        )

    def _locale(self, key: ConversationKey, values: Mapping[str, Any], default: str | None) -> str:
        saved = values.get("locale")
        if isinstance(saved, str) and known_locale(saved):
            return normalize_locale(saved)
        if self.locale_of is not None:
            try:
                found = self.locale_of(key)
            except Exception:  # the application's function: its failure is not the user's
                logger.exception("locale_of failed; using the flow's locale")
                found = None
            if isinstance(found, str) and known_locale(found):
                return normalize_locale(found)
        fallback = normalize_locale(default or DEFAULT_LOCALE)
        return fallback if known_locale(fallback) else DEFAULT_LOCALE

    def _zone(self, values: Mapping[str, Any]) -> tzinfo:
        saved = values.get("timezone")
        if isinstance(saved, str) and saved:
            try:
                return time_zone(saved)
            except ValueError:
                logger.warning("saved time zone is unknown; using the default")
        return self.timezone
