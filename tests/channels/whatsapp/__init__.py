"""The WhatsApp channel's tests: parsing, rendering, the messenger, the webhook app."""
