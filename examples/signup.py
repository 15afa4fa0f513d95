"""Sign a new user up: the flow of DESIGN.md §2."""

from flowhq import ApiCall, Confirm, Flow, Message, Prompt
from flowhq.validators import email


class Signup(Flow):
    """Sign a new user up."""

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
