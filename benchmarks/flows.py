"""Flows written for the benchmark: a counter, generated chains of N states, a 12-state menu.

The signup example (examples/signup.py) is the main subject; these isolate one property each.
"""

from __future__ import annotations

import functools

from flowhq import Choice, Confirm, Flow, Message, Prompt
from flowhq.validators import integer, regex

SIGNUP_LOOP = ["Ann", "ann@example.com", "no"]
"""Signup answers that go round first_name → email → confirm → first_name without the API."""


def signup_text(step: int) -> str:
    """The text of a conversation's ``step``-th message: "hi" starts it, then the loop."""
    return "hi" if step == 0 else SIGNUP_LOOP[(step - 1) % len(SIGNUP_LOOP)]


class Tally(Flow):
    """One question asked again and again: the document counts every answer.

    ``validation.attempts["number"]`` is the number of applied answers (the first message
    starts the flow and is not an answer), so lost or doubled messages show.
    """

    name = "tally"

    number = Prompt("Send a number", initial=True)
    valid = number.to(number)


@functools.cache  # one class per size: flowhq caches per class, as for a real flow
def chain(size: int) -> type[Flow]:
    """A flow of ``size`` prompts in a ring: q0 → q1 → … → q{size-1} → q0."""
    prompts = [Prompt(f"Question {n}?", initial=n == 0) for n in range(size)]
    namespace: dict[str, object] = {"name": f"chain{size}", "__module__": __name__}
    for number, prompt in enumerate(prompts):
        namespace[f"q{number}"] = prompt
    ring = prompts[0].to(prompts[1 % size])
    for number in range(1, size):
        ring |= prompts[number].to(prompts[(number + 1) % size])
    namespace["valid"] = ring
    return type(f"Chain{size}", (Flow,), namespace)


class Menu12(Flow):
    """Twelve states, a five-option menu, validators, a confirmation, help and cancel."""

    name = "menu12"
    commands = {"help": "help", "cancel": "cancel"}

    menu = Choice(
        "How can we help?",
        options={
            "order": "Order something",
            "track": "Track an order",
            "billing": "Billing",
            "tech": "Technical problem",
            "person": "Talk to a person",
        },
        initial=True,
    )
    item = Prompt("What would you like to order?")
    quantity = Prompt("How many {item}?", validator=integer(min=1, max=10), max_attempts=3)
    tracking = Prompt(
        "Your order number?",
        validator=regex(r"A\d{3}", "Order numbers look like A123.", example="A123"),
        max_attempts=3,
    )
    invoice = Prompt(
        "Your invoice number?",
        validator=regex(r"INV-\d{4}", "Invoice numbers look like INV-1234.", example="INV-1234"),
        max_attempts=3,
    )
    device = Choice("Which device?", options={"phone": "Phone", "laptop": "Laptop"})
    problem = Prompt("What happens on your {device}?")
    confirm = Confirm("Shall I send this to our team?")
    help_text = Message("Answer the question, or type 'cancel' to stop. Back to the menu:")
    sent = Message("Sent! We'll be in touch.", final=True)
    handoff = Message("A person will reply here shortly.", final=True)
    cancelled = Message("Cancelled. Type anything to start again.", final=True)

    order = menu.to(item)
    track = menu.to(tracking)
    billing = menu.to(invoice)
    tech = menu.to(device)
    person = menu.to(handoff)
    chosen = device.to(problem)
    valid = (
        item.to(quantity)
        | quantity.to(confirm)
        | tracking.to(confirm)
        | invoice.to(confirm)
        | problem.to(confirm)
    )
    exhausted = quantity.to(handoff) | tracking.to(handoff) | invoice.to(handoff)
    yes = confirm.to(sent)
    no = confirm.to(menu)
    help = (
        menu.to(help_text)
        | item.to(help_text)
        | quantity.to(help_text)
        | tracking.to(help_text)
        | invoice.to(help_text)
        | device.to(help_text)
        | problem.to(help_text)
    )
    done = help_text.to(menu)
    cancel = (
        menu.to(cancelled)
        | item.to(cancelled)
        | quantity.to(cancelled)
        | tracking.to(cancelled)
        | invoice.to(cancelled)
        | device.to(cancelled)
        | problem.to(cancelled)
        | confirm.to(cancelled)
    )
