"""Validators for ``Prompt``: callables ``str -> value`` raising ``ValidationError``."""

from flowhq.components.validators import email, integer, one_of, phone, regex
from flowhq.errors import ValidationError

__all__ = ["ValidationError", "email", "integer", "one_of", "phone", "regex"]
