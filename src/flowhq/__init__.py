"""flowhq: chat-bot conversations as statecharts, persisted safely.

Everything a user needs is importable from here; see ``DESIGN.md`` §2.
"""

from importlib.metadata import PackageNotFoundError, version

from statemachine import State

from flowhq import validators
from flowhq.components import Action, ApiCall, Choice, Confirm, ErrorHandler, Message, Prompt
from flowhq.errors import (
    ChannelError,
    ConflictError,
    DeliveryError,
    FlowDefinitionError,
    FlowError,
    InputError,
    MissingValueError,
    SnapshotError,
    StateAccessError,
    StepLimitError,
    StoreUnavailableError,
    ValidationError,
)
from flowhq.headquarters import Headquarters, Outcome, StepObserver, StepRecord
from flowhq.messaging import (
    ConsoleMessenger,
    InboundMessage,
    Location,
    Media,
    Messenger,
    OutboundMessage,
    RecordingMessenger,
)
from flowhq.persistence import ConversationKey, MemoryStore, RedisStore, Store
from flowhq.state import StateManager
from flowhq.statecharts import Flow, HistoryState, check_flow

try:
    __version__ = version("flowhq")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Action",
    "ApiCall",
    "ChannelError",
    "Choice",
    "Confirm",
    "ConflictError",
    "ConsoleMessenger",
    "ConversationKey",
    "DeliveryError",
    "ErrorHandler",
    "Flow",
    "FlowDefinitionError",
    "FlowError",
    "Headquarters",
    "HistoryState",
    "InboundMessage",
    "InputError",
    "Location",
    "Media",
    "MemoryStore",
    "Message",
    "Messenger",
    "MissingValueError",
    "OutboundMessage",
    "Outcome",
    "Prompt",
    "RecordingMessenger",
    "RedisStore",
    "SnapshotError",
    "State",
    "StateAccessError",
    "StateManager",
    "StepLimitError",
    "StepObserver",
    "StepRecord",
    "Store",
    "StoreUnavailableError",
    "ValidationError",
    "__version__",
    "check_flow",
    "validators",
]
