"""Charts that exercise what the example flows do not, for the engine's differential test.

They are plain ``StateChart`` classes with flowhq's three flags (the compiled engine runs any
StateChart class): most of these shapes are legal statecharts that flowhq's checks would
refuse (plain states that never wait, parallel regions with no components). A few are
``Flow`` subclasses with plain states, built with the checks deferred. Guards read the kwargs
flowhq passes (``data``, ``component_result``), the configuration (``In(...)``), or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from statemachine import State, StateChart

from flowhq import Flow, HistoryState
from flowhq.statecharts.flow import checks_deferred


class ZooChart(StateChart[Any]):
    """flowhq's settings (see ``Flow``), without python-statemachine's structure checks."""

    _abstract = True
    enable_self_transition_entries = True
    allow_event_without_transition = False
    catch_errors_as_events = False
    validate_disconnected_states = False
    validate_trap_states = False
    validate_final_reachability = False

    # Guards of events (python-statemachine passes no ``data`` to guards of eventless
    # transitions and of internal events, so those read the configuration instead).
    def ok(self, data: Mapping[str, Any]) -> bool:
        return bool(data["ok"])

    def flag(self, data: Mapping[str, Any]) -> bool:
        return bool(data["flag"])


class DeepNest(ZooChart):
    """Compound states three deep; deep and shallow history with defaults; done.state events
    from a final state inside a compound, caught by an ancestor through a descriptor prefix;
    a compound's transition that a child's transition on the same event preempts."""

    class top(State.Compound):
        class mid(State.Compound):
            class low(State.Compound):
                l1 = State(initial=True)
                l2 = State()
                l_end = State(final=True)
                step = l1.to(l2)
                finish = l2.to(l_end)
                back = l2.to(l1)
                poke = l1.to.itself()
                # The same event on the compound and on its child: the child's wins.
                jump = l2.to(l_end)

            m2 = State()
            m_end = State(final=True)
            jump = low.to(m2)
            done_state_low = low.to(m2)
            rewind = m2.to(low)
            close = m2.to(m_end, cond="ok")
            step = m2.to(low.l2)  # into the middle of ``low``, past its initial state

        t2 = State()
        deep = HistoryState()
        shallow = HistoryState(deep=False)
        deep.to(mid.low.l2)  # a default deep inside, entering its ancestors on the way
        shallow.to(t2)
        side = mid.to(t2)
        back = t2.to(mid)
        # A descriptor prefix: ``done.state`` also matches ``done.state.low``.
        settle = mid.m2.to(t2, event="done.state")

    away = State()
    end = State(final=True)
    leave = top.to(away)
    deep_back = away.to(top.deep)
    shallow_back = away.to(top.shallow)
    plain_back = away.to(top)
    finish = away.to(end, cond="ok")
    # ``done`` matches ``done.state.mid`` (and every other done.state event).
    done = top.to(away, cond="In('m_end')")


class Regions(ZooChart):
    """A parallel state whose regions finish (done.state of each region and of the parallel
    state), a history state remembering every region, and events several regions take at
    once: some together, some in conflict (the first region's transition wins)."""

    idle = State(initial=True)

    class work(State.Parallel):
        class left(State.Compound):
            l1 = State(initial=True)
            l2 = State()
            l_done = State(final=True)
            go = l1.to(l2)
            finish = l2.to(l_done)
            reset = l2.to(l1)

        class right(State.Compound):
            r1 = State(initial=True)
            r2 = State()
            r_done = State(final=True)
            go = r1.to(r2)
            finish = r2.to(r_done, cond="ok")
            reset = r2.to(r1)
            skip = r1.to(r_done)
            back = r2.to(r1)  # right only: afterwards r1 is later in the configuration

        hist = HistoryState()
        hist.to(left.l1)  # the default enters every other region at its initial state

        # Both regions take ``clash``; left leaves the parallel state: a conflict.
        clash = left.l1.to(right.r2)  # crosses regions: exits the whole parallel state

    finished = State()
    paused = State()
    end = State(final=True)

    start = idle.to(work)
    clash = work.right.r1.to(work.right.r2) | idle.to(work.right.r2)
    pause = work.to(paused)
    resume = paused.to(work.hist)
    restart = paused.to(work)
    done_state_work = work.to(finished)
    done_state_left = work.right.r1.to(work.right.r2)  # a region's done.state elsewhere
    close = finished.to(end) | paused.to(end)


class Crossing(ZooChart):
    """Two parallel states side by side; transitions with several targets, into regions of
    the other parallel state; a parallel state's transition against its regions'."""

    class p(State.Parallel):
        class a(State.Compound):
            a1 = State(initial=True)
            a2 = State()
            hop = a1.to(a2)

        class b(State.Compound):
            b1 = State(initial=True)
            b2 = State()
            hop = b1.to(b2)
            flip = b2.to(b1)

    class q(State.Parallel):
        class c(State.Compound):
            c1 = State(initial=True)
            c2 = State()
            hop = c1.to(c2)

        class d(State.Compound):
            d1 = State(initial=True)
            d2 = State()
            hop = d2.to(d1)

    # One transition, two targets in different regions of ``q``.
    cross = p.a.a2.to([q.c.c2, q.d.d2]) | q.to([p.a.a2, p.b.b2])
    # On the parallel state and inside a region: the region's transition is more specific.
    flip = p.to(q)
    swap = p.b.b1.to(q.d.d2) | p.a.a1.to(q.c.c2)
    reset = q.to(p)


class Guards(ZooChart):
    """Every kind of guard: cond and unless, method names, callables, boolean expressions,
    ``In(...)``; guards reading ``data`` and ``component_result``; eventless transitions with
    guards; self-transitions, external and internal; an internal transition of a compound."""

    class box(State.Compound):
        g1 = State(initial=True)
        g2 = State()
        g3 = State()
        move = g1.to(g2, cond="ok") | g1.to(g3, unless="flag") | g1.to(g1)
        move2 = g2.to(g3, cond="ok and not flag") | g2.to(g1, cond=["ok", "flag"])
        spin = g1.to.itself() | g2.to.itself(internal=True) | g3.to.itself(cond="flag")
        expr = g3.to(g1, cond="In('g3') and (flag or not ok)")
        lam = g2.to(g1, cond=lambda data: data["n"] > 1)
        result = g3.to(g2, cond="result_is_expr")
        vet = g2.to(g3, unless=["flag", "ok"]) | g2.to(g1, cond="in_g2")
        # An internal transition of the compound to its own child: the compound stays.
        inner = g3.to(g2)

    box_inner = box.to(box.g2, internal=True, event="inner")
    box_self = box.to.itself(internal=True, event="refresh")
    outside = State()
    sink = State()
    # Eventless, guarded on the configuration: in ``outside``, leave for ``sink`` at once
    # unless the box was left through ``park``.
    leave = box.to(outside, cond="flag") | box.to(sink)
    outside.to(sink, cond="In('outside')")
    back = sink.to(box)
    park = box.to(outside)

    def result_is_expr(self, component_result: str | None) -> bool:
        return component_result == "result"

    def in_g2(self) -> bool:
        return bool(self.g2.is_active)  # the chart's own configuration


class TopParallel(ZooChart):
    """A parallel state at the top: the chart terminates when every region is final."""

    class both(State.Parallel):
        class one(State.Compound):
            o1 = State(initial=True)
            o_end = State(final=True)
            finish = o1.to(o_end)
            undo = o_end.to(o1)
            o1.to(o_end, cond="In('t2')")  # eventless, once the other region moved on

        class two(State.Compound):
            t1 = State(initial=True)
            t2 = State()
            t_end = State(final=True)
            step = t1.to(t2)
            finish = t2.to(t_end, cond="ok") | t1.to(t_end, unless="ok")


class Loops(ZooChart):
    """Eventless transitions in a chain and a cycle broken by a guard on the configuration;
    a transition with no target; events given with wildcard descriptors."""

    s0 = State(initial=True)
    s1 = State()
    s2 = State()
    s3 = State()
    end = State(final=True)

    kick = s0.to(s1)
    s0.to(s1, event="nudge shove")  # one transition, two events
    s1.to(s2)
    s2.to(s3, cond="In('s2')")
    stay = s3.to(None)  # targetless: taken, nothing exited or entered
    again = s3.to(s0)
    anything = s0.to(s3, event="error.*") | s3.to(end, event="done.")
    s3.to(end, event="*", cond="ok")  # any other event, when ok


class RegionHistory(ZooChart):
    """History states inside parallel regions, shallow and deep; one transition targeting
    both; an internal transition to a state two levels down; self-transitions of a parallel
    state, external and internal; an eventless transition of a compound state guarded on
    the other region."""

    class p(State.Parallel):
        class a(State.Compound):
            a1 = State(initial=True)
            a2 = State()
            a3 = State()
            hop = a1.to(a2) | a2.to(a3) | a3.to(a1)
            ha = HistoryState(deep=False)
            ha.to(a3)

        class b(State.Compound):
            b1 = State(initial=True)

            class bb(State.Compound):
                x1 = State(initial=True)
                x2 = State()
                hop = x1.to(x2)
                skip = x2.to(x1)

            hb = HistoryState()
            hb.to(bb.x2)
            enter = b1.to(bb)
            up = bb.to(b1)

        deepin = b.to(b.bb.x2, internal=True)

    refresh = p.to.itself()
    inner_refresh = p.to.itself(internal=True)
    out = State()
    leave = p.to(out)
    back = out.to([p.a.ha, p.b.hb])
    back_b = out.to(p.b.hb)
    back_a = out.to(p.a.ha)
    p.b.bb.to(p.b.b1, cond="In('a3')")


class SelfAndInternal(ZooChart):
    """A compound's done.state from a nested compound's; self-transitions of a compound,
    external and internal; an internal transition into a grandchild; history with a nested
    default."""

    class c(State.Compound):
        class d(State.Compound):
            e1 = State(initial=True)
            e2 = State()
            e_end = State(final=True)
            go = e1.to(e2) | e2.to(e_end)

        d_end = State(final=True)
        done_state_d = d.to(d_end)
        h = HistoryState()
        h.to(d.e2)
        again = d.to.itself()
        again_in = d.to.itself(internal=True)

    deep = c.to(c.d.e2, internal=True)
    z = State()
    done_state_c = c.to(z)
    back = z.to(c.h)
    back_plain = z.to(c)
    jump = z.to(c.d.e2)
    zz = z.to.itself(internal=True)


with checks_deferred():

    class PlainFlow(Flow):
        """A Flow of plain states, with history in a compound and a guard on data."""

        class section(State.Compound):
            q1 = State(initial=True)
            q2 = State()
            q3 = State(final=True)
            step = q1.to(q2) | q2.to(q3, cond="ok")
            hist = HistoryState(deep=False)
            hist.to(q2)

        aside = State()
        end = State(final=True)
        detour = section.to(aside)
        resume = aside.to(section.hist)
        done_state_section = section.to(end)

        def ok(self, data: Mapping[str, Any]) -> bool:
            return bool(data["ok"])


class TwoInitials(ZooChart):
    """A compound state with two children marked initial (python-statemachine enters the
    first), reached by default, by a transition to the compound, and by shallow history."""

    class sec(State.Compound):
        a = State(initial=True)
        b = State(initial=True)
        go = a.to(b) | b.to(a)
        h = HistoryState(deep=False)

    out = State()
    leave = sec.to(out)
    back = out.to(sec)
    resume = out.to(sec.h)


ZOO: list[type[StateChart[Any]]] = [
    DeepNest,
    Regions,
    Crossing,
    Guards,
    TopParallel,
    Loops,
    RegionHistory,
    SelfAndInternal,
    PlainFlow,
    TwoInitials,
]


# -- charts on which the engine and python-statemachine differ (see the test module) --------


class EventlessData(ZooChart):
    """Eventless transitions and a done.state transition whose guards read ``data``."""

    a = State(initial=True)
    b = State()
    c = State()

    class comp(State.Compound):
        c1 = State(initial=True)
        c_end = State(final=True)
        finish = c1.to(c_end)

    big = State()
    small = State()

    go = a.to(b)
    b.to(c, cond="big_n")  # eventless, guarded on the data of the event that led here
    enter = a.to(comp) | c.to(comp)
    done_state_comp = comp.to(big, cond="big_n") | comp.to(small)
    reset = big.to(a) | small.to(a) | c.to(a) | b.to(a)

    def big_n(self, data: Mapping[str, Any]) -> bool:
        return bool(data["n"] > 1)


class EventGuard(ZooChart):
    """A guard that asks for the ``event`` python-statemachine injects."""

    a = State(initial=True)
    b = State()
    c = State()
    go = a.to(b, cond="is_go") | a.to(c)

    def is_go(self, event: str | None) -> bool:
        return event == "go"


class RaisingDoneGuard(ZooChart):
    """Two regions finish at once; the guard on the first region's done.state raises."""

    class main(State.Compound):
        idle = State(initial=True)

        class p(State.Parallel):
            class x(State.Compound):
                x1 = State(initial=True)
                x_end = State(final=True)
                finish = x1.to(x_end)

            class y(State.Compound):
                y1 = State(initial=True)
                y_end = State(final=True)
                finish = y1.to(y_end)

        out = State()
        start = idle.to(p)
        done_state_x = p.to(out, cond="broken")
        done_state_y = p.to(out)
        ping = p.to(p) | out.to(out)

    def broken(self) -> bool:
        raise RuntimeError("broken guard")


class ModelGuard(ZooChart):
    """A guard reading the raw state value of the model python-statemachine passes."""

    a = State(initial=True)
    b = State()
    c = State()
    go = a.to(b, cond="at_a") | a.to(c)

    def at_a(self, model: Any) -> bool:
        return bool(model.state == "a")
