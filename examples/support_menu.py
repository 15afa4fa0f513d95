"""A support menu: Choice in a compound state, ``help`` with history, ``cancel`` anywhere."""

from flowhq import Choice, Flow, HistoryState, Message, Prompt, State
from flowhq.validators import regex


class SupportMenu(Flow):
    """Route a customer to billing, technical support or a person."""

    commands = {"help": "help", "cancel": "cancel"}

    class support(State.Compound):
        """Everything the customer can do before a ticket is made."""

        menu = Choice(
            "How can we help?",
            options={
                "billing": "Billing",
                "tech": "Technical problem",
                "person": "Talk to a person",
            },
            initial=True,
        )
        ask_invoice = Prompt(
            "What's the invoice number?",
            save_as="invoice",
            validator=regex(
                r"INV-\d{4}", "Invoice numbers look like INV-1234.", example="INV-1234"
            ),
        )
        ask_device = Choice(
            "Which device?", options={"phone": "Phone", "laptop": "Laptop"}, save_as="device"
        )
        describe = Prompt("What happens on your {device}?", save_as="problem")
        resume = HistoryState()
        resume.to(menu)  # a first visit after help starts at the menu

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
