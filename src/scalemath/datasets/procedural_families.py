"""The scenario families of the procedural generator (shopping, time, speed, ages, sharing,
savings, recipes, inventory): each draws numbers and writes exactly `steps` gold steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from scalemath.datasets import vocab as V
from scalemath.datasets.procedural_build import (
    Build,
    add_block,
    alt_block,
    capitalized,
    join_and,
    modifier_chain,
    pick_person,
    plan_steps,
    product_flags,
)
from scalemath.datasets.procedural_core import FAMILY_NAMES, Arg, _Reject

# ----------------------------------------------------------------------------------------------
# families: each fills a Build with exactly `steps` gold steps or raises _Reject


def _shopping(b: Build, steps: int) -> None:
    k, p, m = plan_steps(b, steps)
    name, he, _ = pick_person(b)
    items = b.rng.sample(V.ITEMS, k)
    parts: list[Arg] = []
    clauses = []
    ask = ""
    for (plural, single), is_product in zip(items, product_flags(b, k, p)):
        price = b.num()
        if is_product:
            n = b.num()
            clauses.append(f"{n} {plural} for {price} dollars each")
            parts.append(b.step("*", (n, price), f"The {plural} cost {{eq}} dollars."))
            ask = f"How much do the {plural} cost?"
        else:
            clauses.append(f"a {single} for {price} dollars")
            parts.append(price)
    b.say(f"{name} buys {join_and(clauses)}.")
    cur: Arg = parts[0]
    verb = "spend"
    if k >= 2:
        cur = b.step("+", parts, f"{name} spends {{eq}} dollars in all.")
        ask = f"How much does {name} spend in all?"
    chain = (
        modifier_chain(
            b,
            [
                ("coupon",),
                ("weeks",),
                ("change",),
                ("split",),
                ("coupon", "weeks"),
                ("coupon", "change"),
                ("coupon", "split"),
                ("weeks", "change"),
                ("weeks", "split"),
            ],
            m,
        )
        if m
        else ()
    )
    for mod in chain:
        v = b.val(cur)
        if mod == "coupon":
            d = b.num(b.lo, min(b.hi, v - 1))
            b.say(f"{capitalized(he)} has a coupon for {d} dollars off.")
            cur = b.step("-", (cur, d), f"With the coupon {name} pays {{eq}} dollars.")
            ask, verb = f"How much does {name} pay?", "pay"
        elif mod == "weeks":
            w = b.small()
            b.say(f"{capitalized(he)} does this every week for {w} weeks.")
            cur = b.step("*", (cur, w), f"In {w} weeks {name} {verb}s {{eq}} dollars.")
            ask = f"How much does {name} {verb} in {w} weeks?"
        elif mod == "change":
            bill = b.above(v)
            b.say(f"{capitalized(he)} pays with {bill} dollars.")
            cur = b.step("-", (bill, cur), f"{name} gets {{eq}} dollars back.")
            ask = f"How much change does {name} get?"
        else:
            people = b.divisor(v)
            b.say(f"The cost is shared equally by {people} friends.")
            cur = b.step("/", (cur, people), "Each friend pays {eq} dollars.")
            ask = "How much does each friend pay?"
    b.ask(ask)


def _time(b: Build, steps: int) -> None:
    k, p, m = plan_steps(b, steps)
    name, he, _ = pick_person(b)
    acts = b.rng.sample(V.ACTIVITIES, k)
    long_act = b.rng.choice(V.LONG_ACTIVITIES)
    used_long = False
    parts: list[Arg] = []
    clauses = []
    ask = ""
    for (plural, single), is_product in zip(acts, product_flags(b, k, p)):
        if is_product and not used_long and b.rng.random() < 0.25:
            used_long = True
            h = b.num(1, 3)
            clauses.append(f"a {long_act} of {h} hour{'s' if h > 1 else ''}")
            parts.append(b.step("*", (h, 60), f"The {long_act} takes {{eq}} minutes."))
            ask = f"How many minutes does the {long_act} take?"
        elif is_product:
            n, mins = b.num(), b.num() * b.cfg.minute_scale
            clauses.append(f"{n} {plural} of {mins} minutes")
            parts.append(b.step("*", (n, mins), f"The {plural} take {{eq}} minutes."))
            ask = f"How many minutes do the {plural} take?"
        else:
            mins = b.num() * b.cfg.minute_scale
            clauses.append(f"a {single} of {mins} minutes")
            parts.append(mins)
    b.say(f"Each day {name} has {join_and(clauses)}.")
    cur: Arg = parts[0]
    if k >= 2:
        cur = b.step("+", parts, f"{name} is busy for {{eq}} minutes a day.")
        ask = f"How many minutes is {name} busy each day?"
    chain = modifier_chain(b, [("days",), ("left",), ("left", "days"), ("days", "left")], m) if m else ()
    what = "busy"
    for i, mod in enumerate(chain):
        v = b.val(cur)
        if mod == "days":
            d = b.small()
            b.say(f"{capitalized(he)} does this for {d} days.")
            if what == "busy":
                cur = b.step("*", (cur, d), f"In {d} days {name} is busy for {{eq}} minutes.")
                ask = f"How many minutes is {name} busy in {d} days?"
            else:
                cur = b.step("*", (cur, d), f"In {d} days {name} has {{eq}} free minutes left.")
                ask = f"How many free minutes does {name} have left in {d} days?"
            what = "days"
        else:
            free = b.above(v)
            when = "each day" if i == 0 else "in those days"
            b.say(f"{capitalized(he)} has {free} free minutes {when}.")
            cur = b.step("-", (free, cur), f"{name} has {{eq}} free minutes left.")
            ask = f"How many free minutes does {name} have left{' each day' if i == 0 else ''}?"
            what = "left"
    if (k == 1 and p == 0) and not chain:
        raise _Reject("nothing to compute")
    b.ask(ask)


_ORD = ("first", "second", "third")


def _speed(b: Build, steps: int) -> None:
    k, p, m = plan_steps(b, steps)
    veh = b.rng.choice(V.VEHICLES)
    parts: list[Arg] = []
    clauses = []
    ask = ""
    for i, is_product in enumerate(product_flags(b, k, p)):
        if is_product:
            s, h = b.num(), b.num(2, max(2, min(b.hi, 9)))
            clauses.append(f"{s} miles per hour for {h} hours")
            text = f"The {_ORD[i]} part is {{eq}} miles." if k > 1 else f"The {veh} goes {{eq}} miles."
            parts.append(b.step("*", (s, h), text))
            ask = f"How many miles does the {veh} go?"
        else:
            d = b.num()
            clauses.append(f"{d} miles")
            parts.append(d)
    b.say(f"A {veh} goes " + ", then ".join(clauses) + ".")
    cur: Arg = parts[0]
    if k >= 2:
        cur = b.step("+", parts, f"In all the {veh} goes {{eq}} miles.")
        ask = f"How many miles does the {veh} go in all?"
    chain = modifier_chain(b, [("back",), ("left",), ("time",), ("back", "time"), ("left", "time")], m) if m else ()
    after_left = False
    for mod in chain:
        v = b.val(cur)
        if mod == "back":
            b.say("Then it comes back the same way.")
            cur = b.step("*", (cur, 2), "There and back is {eq} miles.")
            ask = f"How many miles does the {veh} go there and back?"
        elif mod == "left":
            road = b.above(v)
            b.say(f"The whole road is {road} miles long.")
            cur = b.step("-", (road, cur), f"The {veh} has {{eq}} miles left.")
            ask, after_left = "How many miles are left?", True
        else:
            speed = b.divisor(v)
            if after_left:
                b.say(f"It goes the rest at {speed} miles per hour.")
                cur = b.step("/", (cur, speed), "The rest takes {eq} hours.")
                ask = "How many hours does the rest take?"
            else:
                b.say(f"Another day it makes the whole trip at {speed} miles per hour.")
                cur = b.step("/", (cur, speed), f"At {speed} miles per hour it takes {{eq}} hours.")
                ask = "How many hours does that take?"
    if (k == 1 and p == 0) and not chain:
        raise _Reject("nothing to compute")
    b.ask(ask)


_TIMES = {2: "twice", 3: "three times", 4: "four times"}


def _ages(b: Build, steps: int) -> None:
    extras = {"none": 0, "sum": 1, "future": 1, "sum_future": 3}
    options = [
        (r, e) for r in range(0, 5) for e, cost in extras.items() if r + cost == steps and (r > 0 or e == "future")
    ]
    if not options:
        raise _Reject("no ages plan")
    r, extra = b.rng.choice(options)
    people = b.rng.sample(V.PEOPLE, r + 1)
    names = [p[0] for p in people]
    base = b.num()
    b.say(f"{names[0]} is {base} years old.")
    ages: list[Arg] = [base]
    for i in range(1, r + 1):
        # relative to anyone named before (star or chain) when all ages are summed; a chain
        # when one age is asked, so that every step is needed
        j = b.rng.randrange(i) if extra in ("sum", "sum_future") else i - 1
        ref, who = ages[j], names[j]
        kind = b.rng.choice(("older", "younger", "times"))
        if kind == "older":
            d = b.num(1, min(b.hi, 30))
            b.say(f"{names[i]} is {d} years older than {who}.")
            ages.append(b.step("+", (ref, d), f"{names[i]} is {{eq}} years old."))
        elif kind == "younger":
            d = b.num(1, min(b.hi, b.val(ref) - 1))
            b.say(f"{names[i]} is {d} years younger than {who}.")
            ages.append(b.step("-", (ref, d), f"{names[i]} is {{eq}} years old."))
        else:
            t = b.rng.choice((2, 3, 4))
            b.say(f"{names[i]} is {_TIMES[t]} as old as {who}.")
            ages.append(b.step("*", (ref, t), f"{names[i]} is {{eq}} years old."))
        if b.val(ages[-1]) > 99:
            raise _Reject("too old")
    if extra == "none":
        b.ask(f"How old is {names[-1]}?")
    elif extra == "future":
        y = b.num(1, min(b.hi, 20))
        z = r
        b.step("+", (ages[z], y), f"In {y} years {names[z]} will be {{eq}} years old.")
        b.ask(f"How old will {names[z]} be in {y} years?")
    elif extra == "sum":
        b.step("+", ages, "Together they are {eq} years old.")
        b.ask("What is the sum of their ages?")
    else:
        y = b.num(1, min(b.hi, 20))
        total = b.step("+", ages, "Together they are {eq} years old now.")
        gain = b.step("*", (r + 1, y), f"In {y} years the {r + 1} of them gain {{eq}} years.")
        b.step("+", (total, gain), "Then they will be {eq} years old in all.")
        b.ask(f"What will the sum of their ages be in {y} years?")


def _sharing(b: Build, steps: int) -> None:
    k, p, m = plan_steps(b, steps)
    name, he, _ = pick_person(b)
    thing = b.rng.choice(V.SHARE_THINGS)
    boxes = b.rng.sample(V.CONTAINERS, k)
    parts: list[Arg] = []
    clauses = []
    ask = ""
    loose_used = False
    for box, is_product in zip(boxes, product_flags(b, k, p)):
        if is_product:
            n, each = b.num(), b.num()
            clauses.append(f"{n} {box} with {each} {thing} each")
            parts.append(b.step("*", (n, each), f"The {box} hold {{eq}} {thing}."))
            ask = f"How many {thing} are in the {box}?"
        elif not loose_used:
            loose_used = True
            x = b.num()
            clauses.append(f"{x} loose {thing}")
            parts.append(x)
        else:
            x = b.num()
            clauses.append(f"a {box[:-1] if not box.endswith('xes') else box[:-2]} with {x} {thing}")
            parts.append(x)
    b.say(f"{name} has {join_and(clauses)}.")
    cur: Arg = parts[0]
    if k >= 2:
        cur = b.step("+", parts, f"{name} has {{eq}} {thing} in all.")
        ask = f"How many {thing} does {name} have in all?"
    chain = (
        modifier_chain(b, [("lose",), ("get",), ("share",), ("lose", "share"), ("get", "share"), ("get", "lose")], m)
        if m
        else ()
    )
    for mod in chain:
        v = b.val(cur)
        if mod == "lose":
            x = b.num(1, min(b.hi, v - 1))
            b.say(f"{capitalized(he)} gives {x} of them away.")
            cur = b.step("-", (cur, x), f"{name} has {{eq}} {thing} left.")
            ask = f"How many {thing} does {name} have left?"
        elif mod == "get":
            x = b.num()
            b.say(f"{capitalized(he)} gets {x} more.")
            cur = b.step("+", (cur, x), f"Now {name} has {{eq}} {thing}.")
            ask = f"How many {thing} does {name} have now?"
        else:
            friends = b.divisor(v)
            b.say(f"{capitalized(he)} shares them equally among {friends} friends.")
            cur = b.step("/", (cur, friends), f"Each friend gets {{eq}} {thing}.")
            ask = f"How many {thing} does each friend get?"
    if (k == 1 and p == 0) and not chain:
        raise _Reject("nothing to compute")
    b.ask(ask)


def _savings(b: Build, steps: int) -> None:
    same_rate = b.rng.random() < 0.5
    k, p, m = plan_steps(b, steps, products="all" if same_rate else "any")
    name, he, _ = pick_person(b)
    parts: list[Arg] = []
    ask = ""
    if same_rate:
        rate = b.num()
        days = sorted(b.rng.sample(range(7), k))
        hours = [b.num(1, min(b.hi, 10)) for _ in days]
        clauses = [f"{h} hour{'s' if h > 1 else ''} on {V.DAYS[d]}" for h, d in zip(hours, days)]
        b.say(f"{name} earns {rate} dollars an hour. Each week {he} works {join_and(clauses)}.")
        for h, d in zip(hours, days):
            text = f"On {V.DAYS[d]} {name} earns {{eq}} dollars." if k > 1 else f"{name} earns {{eq}} dollars a week."
            parts.append(b.step("*", (rate, h), text))
        ask = f"How much does {name} earn each week?"
    else:
        jobs = b.rng.sample(V.JOBS, k)
        clauses = []
        gift_used = False
        for (does, doing), is_product in zip(jobs, product_flags(b, k, p)):
            if is_product:
                n, pay = b.num(), b.num()
                clauses.append(f"{does} {n} times for {pay} dollars each")
                parts.append(b.step("*", (n, pay), f"{doing} pays {{eq}} dollars."))
            elif not gift_used:
                gift_used = True
                g = b.num()
                clauses.append(f"gets a gift of {g} dollars")
                parts.append(g)
            else:
                g = b.num()
                clauses.append(f"{does} once for {g} dollars")
                parts.append(g)
        b.say(f"Each week {name} {join_and(clauses)}.")
        ask = f"How much does {name} earn each week?"
    cur: Arg = parts[0]
    if k >= 2:
        cur = b.step("+", parts, f"{name} earns {{eq}} dollars a week.")
        if same_rate:
            hsum = ("+", tuple(hours), f"{name} works {{eq}} hours a week.")
            b.alt(  # same_rate: every part is a step name
                cast("list[str]", list(parts) + [cur]),
                [hsum, ("*", (f"a{len(b.alts)}_0", rate), f"{name} earns {{eq}} dollars a week.")],
            )
    if (k == 1 and p == 0) and not m:
        raise _Reject("nothing to compute")
    chain = (
        modifier_chain(
            b, [("spend",), ("weeks",), ("goal",), ("spend", "weeks"), ("weeks", "goal"), ("spend", "goal")], m
        )
        if m
        else ()
    )
    verb = "earn"
    for mod in chain:
        v = b.val(cur)
        if mod == "spend":
            s = b.num(1, min(b.hi, v - 1))
            b.say(f"{capitalized(he)} spends {s} dollars a week.")
            cur = b.step("-", (cur, s), f"{name} saves {{eq}} dollars a week.")
            ask, verb = f"How much does {name} save each week?", "save"
        elif mod == "weeks":
            w = b.small()
            b.say(f"{capitalized(he)} does this for {w} weeks.")
            cur = b.step("*", (cur, w), f"In {w} weeks {name} {verb}s {{eq}} dollars.")
            ask = f"How much does {name} {verb} in {w} weeks?"
        else:
            goal = b.rng.choice(V.GOALS)
            price = b.above(v)
            b.say(f"{capitalized(he)} wants a {goal} that costs {price} dollars.")
            if "weeks" in chain:
                cur = b.step("-", (price, cur), f"{name} needs {{eq}} more dollars.")
                ask = f"How much more does {name} need for the {goal}?"
            else:
                cur = b.step("-", (price, cur), f"After one week {name} needs {{eq}} more dollars.")
                ask = f"After one week, how much more does {name} need for the {goal}?"
    b.ask(ask)


def _recipes(b: Build, steps: int) -> None:
    options = []
    for scale in (0, 1):
        for k in (1, 2, 3):
            for style in ("sum_first", "each_first"):
                core = (k >= 2) + 1 if style == "sum_first" else k + (k >= 2)
                if k == 1 and style == "each_first":
                    continue
                m = steps - scale - core
                if 0 <= m <= 2:
                    options.append((scale, k, style, m))
    if not options:
        raise _Reject("no recipe plan")
    scale, k, style, m = b.rng.choice(options)
    name, he, _ = pick_person(b)
    dish = b.rng.choice(V.DISHES)
    ings = b.rng.sample(V.INGREDIENTS, k)
    amounts = [b.num(1, min(b.hi, 9)) for _ in ings]
    need = join_and([f"{a} cup{'s' if a > 1 else ''} of {i}" for a, i in zip(amounts, ings)])
    if scale:
        serves = b.num(2, min(b.hi, 8))
        times = b.small()
        b.say(f"A {dish} for {serves} people needs {need}.")
        b.say(f"{name} cooks for {serves * times} people.")
        mult: Arg = b.step("/", (serves * times, serves), f"{name} needs {{eq}} times the recipe.")
    else:
        times = b.small()
        b.say(f"A {dish} needs {need}. {name} makes {times} of them.")
        mult = times
    per_ing = [f"{name} uses {{eq}} cups of {i}." for i in ings]
    if k == 1:
        cur: Arg = b.step("*", (amounts[0], mult), per_ing[0])
        ask = f"How many cups of {ings[0]} does {name} use?"
    else:
        ask = f"How many cups does {name} use in all?"
        sum_first: list[tuple[str, tuple[Arg, ...], str]] = [
            ("+", tuple(amounts), f"One {dish} needs {{eq}} cups."),
            ("*", ("<per>", mult), f"{name} uses {{eq}} cups in all."),
        ]
        each_first: list[tuple[str, tuple[Arg, ...], str]] = [("*", (a, mult), t) for a, t in zip(amounts, per_ing)]
        each_first.append(("+", tuple(f"<{i}>" for i in range(k)), f"{name} uses {{eq}} cups in all."))
        gold, other = (sum_first, each_first) if style == "sum_first" else (each_first, sum_first)
        names = add_block(b, gold)
        cur = names[-1]
        alt_block(b, names, other)
    chain = modifier_chain(b, [("home",), ("price",), ("home", "price")], m) if m else ()
    for mod in chain:
        v = b.val(cur)
        if mod == "home":
            h = b.num(1, min(b.hi, v - 1))
            b.say(f"{capitalized(he)} has {h} cups at home.")
            cur = b.step("-", (cur, h), f"{name} must buy {{eq}} more cups.")
            ask = f"How many more cups must {name} buy?"
        else:
            price = b.num(1, min(b.hi, 9))
            b.say(f"One cup costs {price} dollars.")
            cur = b.step("*", (cur, price), "The cups cost {eq} dollars.")
            ask = f"How much does {name} pay for the cups?" if "home" in chain else "How much do the cups cost?"
    b.ask(ask)


def _inventory(b: Build, steps: int) -> None:
    options = [(e, p) for e in range(1, 5) for p in range(0, 3) if e + p == steps and p <= e]
    if not options:
        raise _Reject("no inventory plan")
    e, p = b.rng.choice(options)
    place, goods = b.rng.choice(V.STORES)
    box = b.rng.choice(V.CONTAINERS)
    day0 = b.rng.randrange(7 - e + 1)
    signs = [b.rng.choice("-+") for _ in range(e)]
    product_at = set(b.rng.sample(range(e), p))
    events: list[tuple[str, Arg, str]] = []  # (sign, amount, clause)
    sold = 0
    for i, sign in enumerate(signs):
        verb = "sells" if sign == "-" else "gets"
        if i in product_at:
            n, each = b.num(), b.num()
            amount: Arg = b.step("*", (n, each), f"The {box} on {V.DAYS[day0 + i]} hold {{eq}} {goods}.")
            clause = f"{verb} {n} {box} of {each}"
        else:
            amount = b.num()
            clause = f"{verb} {amount}"
        events.append((sign, amount, clause))
        sold += b.val(amount) if sign == "-" else 0
    start = sold + b.num()  # enough stock that no count goes negative
    b.say(f"A {place} has {start} {goods}.")
    b.say(" ".join(f"On {V.DAYS[day0 + i]} it {c}." for i, (_, _, c) in enumerate(events)))
    cur: Arg = start
    names: list[str] = []
    for i, (sign, amount, _) in enumerate(events):
        cur = b.step(sign, (cur, amount), f"After {V.DAYS[day0 + i]} it has {{eq}} {goods}.")
        names.append(cur)
    # runs of 2+ same-sign events can be summed first: 50-12-9 or 50-(12+9)
    i = 0
    while i < e:
        j = i
        while j + 1 < e and signs[j + 1] == signs[i]:
            j += 1
        if j > i:
            what = "sells" if signs[i] == "-" else "gets"
            prev: Arg = start if i == 0 else names[i - 1]
            days = f"{V.DAYS[day0 + i]} to {V.DAYS[day0 + j]}"
            block = [
                ("+", tuple(events[t][1] for t in range(i, j + 1)), f"From {days} it {what} {{eq}} {goods}."),
                (signs[i], (prev, "<per>"), f"After {V.DAYS[day0 + j]} it has {{eq}} {goods}."),
            ]
            alt_block(b, names[i : j + 1], block)
        i = j + 1
    b.ask(f"How many {goods} does the {place} have after {V.DAYS[day0 + e - 1]}?")


FAMILIES: dict[str, Callable[[Build, int], None]] = {
    "shopping": _shopping,
    "time": _time,
    "speed": _speed,
    "ages": _ages,
    "sharing": _sharing,
    "savings": _savings,
    "recipes": _recipes,
    "inventory": _inventory,
}
"""Scenario families: name -> builder."""
assert tuple(FAMILIES) == FAMILY_NAMES, "procedural_core.FAMILY_NAMES lists the families FAMILIES builds"
