"""Channel adapters (WhatsApp Cloud API: webhook parsing, signature check, sender)."""
