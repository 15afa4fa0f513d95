"""flowhq: chat-bot conversations as statecharts, persisted safely.

Everything a user needs is importable from here; see docs/guide.md and docs/architecture.md.
"""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from statemachine import State

from flowhq import validators
from flowhq.components import (
    Action,
    ApiCall,
    Choice,
    Confirm,
    ErrorHandler,
    Handoff,
    Message,
    Prompt,
    Wait,
)
from flowhq.errors import (
    ChannelError,
    ConflictError,
    ConversationInProgressError,
    DeliveryError,
    FlowDefinitionError,
    FlowError,
    GraphvizError,
    InputError,
    MissingValueError,
    SnapshotError,
    StateAccessError,
    StepLimitError,
    StoreUnavailableError,
    TokenCipherError,
    ValidationError,
)
from flowhq.headquarters import Headquarters
from flowhq.messaging import (
    ConsoleMessenger,
    InboundMessage,
    Location,
    Media,
    Messenger,
    OutboundMessage,
    RecordingMessenger,
    Template,
)
from flowhq.messaging.key import ConversationKey
from flowhq.persistence import MemoryStore, RedisStore, Store
from flowhq.runtime.records import (
    ForcedResult,
    Outcome,
    PausedConversation,
    StepObserver,
    StepRecord,
)
from flowhq.runtime.settings import ApiOptions, DeliveryOptions, Limits, TimerOptions
from flowhq.state import StateManager
from flowhq.state.document import TranscriptEntry
from flowhq.statecharts import Flow, HistoryState, check_flow

try:
    __version__ = _version("flowhq")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Action",
    "ApiCall",
    "ApiOptions",
    "ChannelError",
    "Choice",
    "Confirm",
    "ConflictError",
    "ConsoleMessenger",
    "ConversationInProgressError",
    "ConversationKey",
    "DeliveryError",
    "DeliveryOptions",
    "ErrorHandler",
    "Flow",
    "FlowDefinitionError",
    "FlowError",
    "ForcedResult",
    "GraphvizError",
    "Handoff",
    "Headquarters",
    "HistoryState",
    "InboundMessage",
    "InputError",
    "Limits",
    "Location",
    "Media",
    "MemoryStore",
    "Message",
    "Messenger",
    "MissingValueError",
    "OutboundMessage",
    "Outcome",
    "PausedConversation",
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
    "Template",
    "TimerOptions",
    "TokenCipherError",
    "TranscriptEntry",
    "ValidationError",
    "Wait",
    "__version__",
    "check_flow",
    "validators",
]
