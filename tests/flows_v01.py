"""The example flows as flowhq 0.1 shipped them (state ids and saved names), for the test
that loads conversations stored by 0.1. Only what 0.2 requires was added: ``saves=`` on the
ApiCall whose handler saves values."""

from __future__ import annotations

import httpx

from flowhq import (
    ApiCall,
    Choice,
    Confirm,
    Flow,
    HistoryState,
    Message,
    Prompt,
    State,
    StateManager,
)
from flowhq.validators import email, regex


class Signup(Flow):
    name = "signup"
    commands = {"cancel": "cancel"}

    ask_name = Prompt("What's your name?", save_as="name", initial=True)
    ask_email = Prompt(
        "Thanks {name}! Your email?", save_as="email", validator=email, max_attempts=3
    )
    confirm = Confirm("Create an account for {name} <{email}>?")
    create = ApiCall("POST", "/users", json={"name": "{name}", "email": "{email}"})
    welcome = Message("Welcome aboard, {name}!", final=True)
    goodbye = Message("No problem. Bye!", final=True)

    valid = ask_name.to(ask_email) | ask_email.to(confirm)
    exhausted = ask_email.to(goodbye)
    yes = confirm.to(create)
    no = confirm.to(ask_name)
    success = create.to(welcome)
    error = create.to(goodbye)
    cancel = ask_name.to(goodbye) | ask_email.to(goodbye) | confirm.to(goodbye)


def classify(response: httpx.Response, state_manager: StateManager) -> str | None:
    if response.status_code == 404:
        return "not_found"
    if response.is_success:
        order = response.json()
        state_manager.save_value("status", order["status"])
        state_manager.save_value("eta", order["eta"])
    return None


class OrderStatus(Flow):
    name = "order_status"
    commands = {"cancel": "cancel"}

    ask_order = Prompt(
        "What's your order number?",
        save_as="order_id",
        validator=regex(r"[A-Za-z]\d{3}", "Order numbers look like A100.", example="A100"),
        initial=True,
    )
    lookup = ApiCall(
        "GET",
        "/orders/{order_id}",
        handler=classify,
        results=("success", "not_found", "error"),
        saves=("status", "eta"),
    )
    report = Message("Order {order_id} is {status}; it arrives {eta}.")
    another = Confirm("Anything else?")
    unknown = Message("I couldn't find order {order_id}.")
    unavailable = Message("Our order system is not answering. Please try later.", final=True)
    bye = Message("Bye!", final=True)

    valid = ask_order.to(lookup)
    success = lookup.to(report)
    not_found = lookup.to(unknown)
    error = lookup.to(unavailable)
    done = report.to(another) | unknown.to(another)
    yes = another.to(ask_order)
    no = another.to(bye)
    cancel = ask_order.to(bye) | another.to(bye)


class SupportMenu(Flow):
    name = "support_menu"
    commands = {"help": "help", "cancel": "cancel"}

    class support(State.Compound):
        menu = Choice(
            "How can we help?",
            options={
                "billing": "Billing",
                "tech": "Technical problem",
                "person": "Talk to a person",
            },
            initial=True,
        )
        ask_invoice = Prompt("What's the invoice number?", save_as="invoice")
        ask_device = Choice(
            "Which device?", options={"phone": "Phone", "laptop": "Laptop"}, save_as="device"
        )
        describe = Prompt("What happens on your {device}?", save_as="problem")
        resume = HistoryState()
        resume.to(menu)

        billing = menu.to(ask_invoice)
        tech = menu.to(ask_device)
        phone = ask_device.to(describe)
        laptop = ask_device.to(describe)

    help_text = Message("Answer the question, or type 'cancel' to stop. Back to it:")
    billing_ticket = Message("Thanks! We opened a ticket for invoice {invoice}.", final=True)
    tech_ticket = Message("Thanks! A technician will look at your {device}.", final=True)
    handoff = Message("A person will reply here shortly.", final=True)
    cancelled = Message("Cancelled. Type anything to start again.", final=True)

    valid = support.ask_invoice.to(billing_ticket) | support.describe.to(tech_ticket)
    person = support.menu.to(handoff)
    help = support.to(help_text)
    done = help_text.to(support.resume)
    cancel = support.to(cancelled)
