"""The documents that are generated from the code are up to date."""

from __future__ import annotations

from pathlib import Path

from traitlets import Float, Int, TraitType
from traitlets.config import Configurable

from pdit_gateway.configdoc import render

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_matches_the_traits():
    assert (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8") == render(), (
        "regenerate: python -m pdit_gateway.configdoc docs/configuration.md"
    )


def help_problem(name: str, trait: TraitType) -> str | None:  # type: ignore[type-arg]
    """Why ``trait``'s help does not say what the option means and in which unit, or None.

    A help is a sentence or more; a Float is in seconds; a byte count says bytes; any other
    Int names what it counts (bytes, a count, a level, or a plural noun in its first words).
    """
    words = " ".join(str(trait.help or "").split())
    if len(words.split()) < 4 or not words.endswith((".", ".)")):
        return f"{name}: the help is not a sentence: {words!r}"
    lower = words.lower()
    if isinstance(trait, Float) and "second" not in lower:
        return f"{name}: a Float without its unit (seconds): {words!r}"
    if "bytes" in name and "byte" not in lower:
        return f"{name}: a byte count that does not say bytes: {words!r}"
    if isinstance(trait, Int) and not (
        any(unit in lower for unit in ("byte", "count", "level"))
        or any(word.endswith("s") for word in lower.split()[:2])
    ):
        return f"{name}: an Int that does not name what it counts: {words!r}"
    return None


def test_every_trait_states_its_unit_or_meaning():
    from pdit_gateway.app import PditGatewayApp

    traits = PditGatewayApp.class_own_traits(config=True)
    assert traits
    problems = [help_problem(name, trait) for name, trait in sorted(traits.items())]
    assert [problem for problem in problems if problem] == []


def test_the_help_check_finds_an_unhelpful_trait():
    class Vague(Configurable):
        wait = Float(1.0, config=True, help="How long to wait before giving up.")
        size = Int(0, config=True, help="Size.")
        tail_bytes = Int(0, config=True, help="How much of the end to keep.")
        depth = Int(0, config=True, help="How deep the pipeline goes (0 = all).")
        timeout = Float(0.0, config=True, help="Seconds to wait (0 = forever).")

    found = {
        name: help_problem(name, trait)
        for name, trait in Vague.class_own_traits(config=True).items()
    }
    assert found["timeout"] is None
    assert "seconds" in str(found["wait"])
    assert "not a sentence" in str(found["size"])
    assert "bytes" in str(found["tail_bytes"])
    assert "what it counts" in str(found["depth"])
