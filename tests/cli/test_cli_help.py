"""Help that reads at the common 80-column width: no default cut mid-word, no line
past the width, every MuggleMath strategy named in `augment query --help`."""

from __future__ import annotations

import re

import typer.main
from typer import _click as click
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.methods.augment.query import STRATEGIES

runner = CliRunner()
ENV = {"COLUMNS": "80"}


def _commands(cmd=None, path=()):
    cmd = cmd or typer.main.get_command(app)
    yield list(path), cmd
    if hasattr(cmd, "list_commands"):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            yield from _commands(cmd.get_command(ctx, name), (*path, name))


def test_augment_query_help_names_every_strategy_at_80_columns():
    r = runner.invoke(app, ["augment", "query", "--help"], env=ENV)
    assert r.exit_code == 0, r.output
    words = set(re.findall(r"\w+", r.output))
    assert set(STRATEGIES) <= words, set(STRATEGIES) - words


def test_every_help_fits_80_columns_and_shows_whole_defaults():
    problems = []
    n = 0
    for path, cmd in _commands():
        n += 1
        r = runner.invoke(app, [*path, "--help"], env=ENV)
        name = " ".join(["scalemath", *path])
        if r.exit_code != 0:
            problems.append(f"{name} --help: exit {r.exit_code}")
            continue
        problems += [f"{name}: line of {len(x)} columns: {x!r}" for x in r.output.splitlines() if len(x) > 80]
        words = set(re.findall(r"[\w$./@<>-]+", r.output))
        squeezed = re.sub(r"\s+", "", r.output)
        for p in cmd.params:
            d = getattr(p, "default", None)
            if getattr(p, "show_default", None) is False or d in (None, "", [], ()) or callable(d):
                continue
            shown = ", ".join(map(str, d)) if isinstance(d, list | tuple) else str(d)
            for tok in re.split(r"[\s,]+", shown):
                # a default token present only when the line breaks are removed was cut mid-word
                if len(tok) > 3 and tok not in words and tok in squeezed:
                    problems.append(f"{name} {p.name}: default {tok!r} cut across lines")
    assert n > 30, n  # every command and group was seen
    assert not problems, "\n".join(problems)
