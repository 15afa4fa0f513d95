"""Languages: gettext catalogs of flow texts, the conversation's locale and time zone.

See docs/i18n.md. Flow texts are their own message ids (the English source text);
``pybabel extract`` finds them through flowhq's extractor (``flowhq.i18n.extract``).
flowhq's own texts (re-asks, button labels, apologies) ship translated in es and pt_BR.
"""

from flowhq.i18n.catalogs import BUILTIN_DOMAIN, Translations, builtin_translations
from flowhq.i18n.extract import mark
from flowhq.i18n.localization import DEFAULT_LOCALE, Languages, Localization, time_zone

__all__ = [
    "BUILTIN_DOMAIN",
    "DEFAULT_LOCALE",
    "Languages",
    "Localization",
    "Translations",
    "builtin_translations",
    "mark",
    "time_zone",
]
