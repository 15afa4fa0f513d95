"""Testing flows: a conversation harness, generated paths, and transition coverage.

``Conversation`` talks to a flow like a user; ``paths``/``plan`` generate conversations that
together take every transition; ``replay`` drives one and says where it diverged; the pytest
plugin (``pytest --flowhq-coverage``) reports the transitions no test exercised.
"""

from flowhq.testing.clock import ManualClock
from flowhq.testing.conversation import Conversation, no_api
from flowhq.testing.coverage import TransitionCoverage, declared_transitions
from flowhq.testing.paths import Move, Path, PathPlan, Step, aplan, paths, plan
from flowhq.testing.replay import ReplayReport, replay

__all__ = [
    "Conversation",
    "ManualClock",
    "Move",
    "Path",
    "PathPlan",
    "ReplayReport",
    "Step",
    "TransitionCoverage",
    "aplan",
    "declared_transitions",
    "no_api",
    "paths",
    "plan",
    "replay",
]
