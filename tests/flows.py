"""Small flows shared by test modules (importable, like python-statemachine's tests/machines)."""

from __future__ import annotations

from flowhq import Action, ApiCall, Choice, Confirm, Flow, HistoryState, Message, Prompt, State
from flowhq.validators import integer


class Age(Flow):
    """A prompt with bounds and attempts, and a guard on the saved value."""

    commands = {"cancel": "cancel"}

    ask_age = Prompt(
        "How old are you?",
        save_as="age",
        validator=integer(min=0, max=130),
        max_attempts=2,
        initial=True,
    )
    adult = Message("Welcome, grown-up.", final=True)
    minor = Message("Ask a parent, please.", final=True)
    give_up = Message("Let's stop here.", final=True)

    valid = ask_age.to(adult, cond="is_adult") | ask_age.to(minor)
    exhausted = ask_age.to(give_up)
    cancel = ask_age.to(give_up)

    def is_adult(self, data: dict[str, object]) -> bool:
        age = data["age"]
        assert isinstance(age, int)
        return age >= 18


def explode(state_manager: object) -> str:
    raise RuntimeError("boom")


class Fragile(Flow):
    """An action that raises, once handled by an `error` transition and once not."""

    ask = Prompt("Go?", initial=True)
    guarded = Action(explode, results=("done", "error"))
    unguarded = Action(explode)
    recovered = Message("Recovered.", final=True)
    finished = Message("Done.", final=True)

    valid = ask.to(guarded, cond="first") | ask.to(unguarded)
    error = guarded.to(recovered)
    done = guarded.to(finished) | unguarded.to(finished)

    def first(self, component_result: str, action: dict[str, object]) -> bool:
        return action.get("route") != "unguarded"


class Nested(Flow):
    """Compound states two deep, history, a parallel state with display work."""

    commands = {"help": "help", "cancel": "cancel"}

    class outer(State.Compound):
        class inner(State.Compound):
            first = Prompt("First?", save_as="answer", initial=True)
            second = Confirm("Sure?")
            valid = first.to(second)

        hist = HistoryState()
        hist.to(inner)
        pick = Choice("Pick one", options={"left": "Left", "right": "Right"})
        yes = inner.second.to(pick)
        no = inner.second.to(inner.first)

    class both(State.Parallel):
        class region_a(State.Compound):
            note_a = Message("Note A", initial=True)
            done_a = State(final=True)
            done = note_a.to(done_a)

        class region_b(State.Compound):
            note_b = Message("Note B", initial=True)
            done_b = State(final=True)
            done = note_b.to(done_b)

    help_text = Message("Help!")
    end = Message("End.", final=True)
    stopped = Message("Stopped.", final=True)

    left = outer.pick.to(both)
    right = outer.pick.to(end)
    help = outer.to(help_text)
    done = help_text.to(outer.hist)
    done_state_both = both.to(end)
    cancel = outer.to(stopped)


class Menu(Flow):
    """Choice with an API call behind one option."""

    menu = Choice("Menu", options={"status": "Order status", "quit": "Quit"}, initial=True)
    fetch = ApiCall("GET", "/orders/{dashboard.order}")
    shown = Message("Found.", final=True)
    failed = Message("Failed.", final=True)
    bye = Message("Bye.", final=True)

    status = menu.to(fetch)
    quit = menu.to(bye)
    success = fetch.to(shown)
    error = fetch.to(failed)
