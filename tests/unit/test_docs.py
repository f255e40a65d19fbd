"""The documents that are generated from the code are up to date."""

from __future__ import annotations

from pathlib import Path

from pdit_gateway.configdoc import render

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_matches_the_traits():
    assert (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8") == render(), (
        "regenerate: python -m pdit_gateway.configdoc docs/configuration.md"
    )


def test_every_trait_states_its_unit_or_meaning():
    from pdit_gateway.app import PditGatewayApp

    for name, trait in PditGatewayApp.class_own_traits(config=True).items():
        assert trait.help and len(trait.help) > 20, name
