"""Tests of the channels (tests/channels/<name>/)."""
