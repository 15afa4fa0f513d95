"""flowhq's tests; the layout mirrors src/flowhq (docs/architecture.md)."""
