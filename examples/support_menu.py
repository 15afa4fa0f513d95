"""A support menu: menus in a compound state, ``help`` and ``cancel`` anywhere.

``help`` returns to the exact question the user left (deep history).
"""

from flowhq import Choice, Flow, HistoryState, Message, Prompt, State
from flowhq.validators import regex


class SupportMenu(Flow):
    """Route a customer to billing, technical support or a person."""

    name = "support_menu"
    commands = {"help": "help", "cancel": "cancel"}

    class support(State.Compound):
        """Everything the customer can do before a ticket is made."""

        topic = Choice(
            "How can we help?",
            options={
                "billing": "Billing",
                "tech": "Technical problem",
                "person": "Talk to a person",
            },
            initial=True,
        )
        invoice = Prompt(
            "What's the invoice number?",
            validator=regex(
                r"INV-\d{4}", "Invoice numbers look like INV-1234.", example="INV-1234"
            ),
            max_attempts=3,
        )
        device = Choice("Which device?", options={"phone": "Phone", "laptop": "Laptop"})
        problem = Prompt("What happens on your {device}?")
        resume = HistoryState()  # back to the exact question after help
        resume.to(topic)  # a first visit after help starts at the menu

        billing = topic.to(invoice)
        tech = topic.to(device)
        chosen = device.to(problem)  # one transition serves every device

    help_text = Message("Answer the question, or type 'cancel' to stop. Back to it:")
    billing_ticket = Message("Thanks! We opened a ticket for invoice {invoice}.", final=True)
    tech_ticket = Message("Thanks! A technician will look at your {device}.", final=True)
    handoff = Message("A person will reply here shortly.", final=True)
    cancelled = Message("Cancelled. Type anything to start again.", final=True)

    valid = support.invoice.to(billing_ticket) | support.problem.to(tech_ticket)
    exhausted = support.invoice.to(handoff)
    person = support.topic.to(handoff)
    help = support.to(help_text)
    done = help_text.to(support.resume)
    cancel = support.to(cancelled)
