"""The small, shared vocabulary of the embedded procedural data.

The task generator (`procedural`) and the pre-training corpus (`pretrain_corpus`) draw their
words from here, so a tiny model pre-trained on the corpus has seen every word of the task.
"""

from __future__ import annotations

# (name, subject pronoun, possessive)
PEOPLE: tuple[tuple[str, str, str], ...] = (
    ("Tom", "he", "his"),
    ("Sam", "he", "his"),
    ("Ben", "he", "his"),
    ("Max", "he", "his"),
    ("Leo", "he", "his"),
    ("Jack", "he", "his"),
    ("Dan", "he", "his"),
    ("Raj", "he", "his"),
    ("Ann", "she", "her"),
    ("Mia", "she", "her"),
    ("Eva", "she", "her"),
    ("Zoe", "she", "her"),
    ("Lily", "she", "her"),
    ("Emma", "she", "her"),
    ("Nina", "she", "her"),
    ("Rosa", "she", "her"),
)

# shop items: (plural, singular)
ITEMS: tuple[tuple[str, str], ...] = (
    ("apples", "apple"),
    ("pens", "pen"),
    ("books", "book"),
    ("cups", "cup"),
    ("shirts", "shirt"),
    ("hats", "hat"),
    ("toys", "toy"),
    ("cakes", "cake"),
    ("bottles", "bottle"),
    ("notebooks", "notebook"),
    ("balls", "ball"),
    ("plates", "plate"),
)

# daily activities: (plural, singular) counted in sessions of some minutes
ACTIVITIES: tuple[tuple[str, str], ...] = (
    ("lessons", "lesson"),
    ("games", "game"),
    ("runs", "run"),
    ("calls", "call"),
    ("songs", "song"),
    ("chores", "chore"),
    ("videos", "video"),
    ("walks", "walk"),
)
LONG_ACTIVITIES: tuple[str, ...] = ("trip", "movie", "hike", "class", "show")

VEHICLES: tuple[str, ...] = ("bus", "car", "train", "boat", "truck", "van")

# things to share: (plural, container plural)
SHARE_THINGS: tuple[str, ...] = ("candies", "stickers", "cards", "marbles", "cookies", "beads")
CONTAINERS: tuple[str, ...] = ("bags", "boxes", "jars", "packs", "cans")

JOBS: tuple[tuple[str, str], ...] = (
    # (what one does, the same as a subject)
    ("walks dogs", "Walking dogs"),
    ("washes cars", "Washing cars"),
    ("mows lawns", "Mowing lawns"),
    ("babysits", "Babysitting"),
    ("sells lemonade", "Selling lemonade"),
    ("tutors kids", "Tutoring"),
)
GOALS: tuple[str, ...] = ("bike", "game", "phone", "tent", "guitar", "watch")

INGREDIENTS: tuple[str, ...] = ("flour", "sugar", "milk", "rice", "oats", "water", "nuts", "cream")
DISHES: tuple[str, ...] = ("cake", "soup", "bread", "pie", "stew", "salad")

STORES: tuple[tuple[str, str], ...] = (
    # (place, goods)
    ("shop", "books"),
    ("store", "toys"),
    ("farm", "eggs"),
    ("bakery", "buns"),
    ("library", "books"),
    ("market", "melons"),
    ("shop", "shirts"),
    ("store", "cans"),
)
DAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

NUMBER_WORDS: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
)
