"""Look an order up through an API and report its status."""

import httpx

from flowhq import ApiCall, Confirm, Flow, Message, Prompt, StateManager
from flowhq.validators import regex


def classify(response: httpx.Response, state_manager: StateManager) -> str | None:
    """Turn a 404 into the ``not_found`` result; keep the status for the reply."""
    if response.status_code == 404:
        return "not_found"
    if response.is_success:
        order = response.json()
        state_manager.save_value("status", order["status"])
        state_manager.save_value("eta", order["eta"])
        state_manager.update_action({"last_order": order["id"]})
    return None


class OrderStatus(Flow):
    """Ask for an order number and report where the order is."""

    name = "order_status"
    commands = {"cancel": "cancel"}

    order_id = Prompt(
        "What's your order number?",
        validator=regex(r"[A-Za-z]\d{3}", "Order numbers look like A100.", example="A100"),
        initial=True,
    )
    lookup = ApiCall(
        "GET",
        "/orders/{order_id}",
        handler=classify,
        results=("success", "not_found", "error"),
        saves=("status", "eta"),  # what `classify` saves, so {status} and {eta} are known
    )
    report = Message("Order {order_id} is {status}; it arrives {eta}.")
    another = Confirm("Anything else?")
    unknown = Message("I couldn't find order {order_id}.")
    unavailable = Message("Our order system is not answering. Please try later.", final=True)
    bye = Message("Bye!", final=True)

    valid = order_id.to(lookup)
    success = lookup.to(report)
    not_found = lookup.to(unknown)
    error = lookup.to(unavailable)
    done = report.to(another) | unknown.to(another)
    yes = another.to(order_id)
    no = another.to(bye)
    cancel = order_id.to(bye) | another.to(bye)
