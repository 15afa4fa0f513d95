"""Repository maintenance scripts (not shipped with flowhq)."""
