"""Order a pizza: menus, a quantity, an address, a confirmation and an API call.

One transition serves every option of a menu; ``help`` and ``cancel`` work everywhere.
"""

from flowhq import ApiCall, Choice, Confirm, Flow, HistoryState, Message, Prompt, State
from flowhq.validators import integer


class PizzaOrder(Flow):
    """Take a pizza order."""

    name = "pizza_order"
    commands = {"help": "help", "cancel": "cancel", "menu": "restart"}

    class order(State.Compound):
        """The questions; help and cancel work on every one of them."""

        pizza = Choice(
            "Which pizza would you like?",
            options={
                "margherita": "Margherita",
                "four-cheese": "Four cheese",
                "pepperoni": "Pepperoni",
                "veggie": "Veggie",
                "hawaii": "Hawaii",
            },
            descriptions={"four-cheese": "Mozzarella, gorgonzola, parmesan, fontina"},
            menu_label="See pizzas",
            initial=True,
        )
        size = Choice("Which size?", options={"s": "Small", "m": "Medium", "l": "Large"})
        quantity = Prompt(
            "How many {size} {pizza}?", validator=integer(min=1, max=10), max_attempts=3
        )
        address = Prompt("Where should we deliver?")
        resume = HistoryState()
        resume.to(pizza)

        chosen = pizza.to(size) | size.to(quantity)  # every option goes on the same way
        valid = quantity.to(address)

    confirm = Confirm("{quantity} x {size} {pizza} to {address}. Shall I order?")
    place = ApiCall(
        "POST",
        "/pizza-orders",
        json={"pizza": "{pizza}", "size": "{size}", "quantity": "{quantity}", "to": "{address}"},
        save_as="placed",
    )
    help_text = Message("Pick from the menu or type your answer; 'cancel' stops. Back to it:")
    ordered = Message("Ordered! Your {pizza} is on its way to {address}.", final=True)
    too_many = Message("Let's take that order by phone: call us at +15550100.", final=True)
    failed = Message("Our kitchen is not answering. Please try again later.", final=True)
    cancelled = Message("Cancelled. Type anything to start again.", final=True)

    valid = order.address.to(confirm)
    exhausted = order.quantity.to(too_many)
    yes = confirm.to(place)
    no = confirm.to(order)
    success = place.to(ordered)
    error = place.to(failed)
    help = order.to(help_text)
    done = help_text.to(order.resume)
    cancel = order.to(cancelled) | confirm.to(cancelled)
    restart = confirm.to(order)
