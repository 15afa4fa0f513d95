"""Example flows, importable as ``examples.<module>``; the tests run each end to end."""
