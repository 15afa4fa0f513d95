"""The conversation document and ``StateManager``."""

from flowhq.state.document import ConversationDocument
from flowhq.state.manager import Messaging, Role, StateManager

__all__ = ["ConversationDocument", "Messaging", "Role", "StateManager"]
