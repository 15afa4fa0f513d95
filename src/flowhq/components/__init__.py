"""Components: the behaviour inside component states (docs/components.md)."""

from flowhq.components.action import Action
from flowhq.components.api_call import ApiCall
from flowhq.components.base import Component, ComponentBase, Example
from flowhq.components.choice import Choice
from flowhq.components.confirm import Confirm
from flowhq.components.error_handler import ErrorDecision, ErrorHandler
from flowhq.components.handoff import Handoff
from flowhq.components.message import Message
from flowhq.components.prompt import Prompt
from flowhq.components.wait import Wait

__all__ = [
    "Action",
    "ApiCall",
    "Choice",
    "Component",
    "ComponentBase",
    "Confirm",
    "ErrorDecision",
    "ErrorHandler",
    "Example",
    "Handoff",
    "Message",
    "Prompt",
    "Wait",
]
