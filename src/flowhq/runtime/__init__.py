"""The message cycle: intake, conversations (load, step, commit), delivery.

See docs/architecture.md.
"""
