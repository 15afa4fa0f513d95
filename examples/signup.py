"""Sign a new user up: the flow of the README, written the natural way."""

from flowhq import ApiCall, Confirm, Flow, Message, Prompt, validators


class Signup(Flow):
    """Sign a new user up."""

    name = "signup"  # the id stored in conversations: renaming the class keeps them
    commands = {"cancel": "cancel"}

    first_name = Prompt("What's your name?", initial=True)
    email = Prompt("Thanks {first_name}! Your email?", validator=validators.email, max_attempts=3)
    confirm = Confirm("Create an account for {first_name} <{email}>?")
    create = ApiCall("POST", "/users", json={"name": "{first_name}", "email": "{email}"})
    welcome = Message("Welcome aboard, {first_name}!", final=True)
    goodbye = Message("No problem. Bye!", final=True)

    valid = first_name.to(email) | email.to(confirm)
    exhausted = email.to(goodbye)
    yes = confirm.to(create)
    no = confirm.to(first_name)
    success = create.to(welcome)
    error = create.to(goodbye)
    cancel = first_name.to(goodbye) | email.to(goodbye) | confirm.to(goodbye)
