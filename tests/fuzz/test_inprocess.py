"""Hostile requests against every route, in process (``Emulator.handle`` with raw bytes).

Every response must satisfy the oracle in ``support.py``: a 4xx in OpenSearch's envelope
(or the release's own deliberate 5xx), no traceback, and no change to the store after a
rejected request.
"""
from __future__ import annotations

import pytest
from hypothesis import given

from tests.fuzz import strategies as fs
from tests.fuzz.support import World, fuzz_settings


@pytest.fixture(scope="module")
def world():
    with World() as w:
        yield w


def test_any_request_to_any_route(world):
    @fuzz_settings(100)
    @given(fs.route_cases())
    def run(case):
        world.check(case)

    run()


def test_malformed_and_extreme_bodies_everywhere(world):
    @fuzz_settings(80)
    @given(fs.route_cases(body_kinds=("extreme",)))
    def run(case):
        world.check(case)

    run()


@pytest.mark.parametrize("handlers", [
    ("create_connector",),
    ("register_model",),
    ("register_group", "update_group"),
    ("predict_model", "predict_algorithm"),
    ("put_settings",),
    ("deploy_model", "undeploy_model"),
], ids=lambda h: "+".join(h))
def test_wrong_types_and_unknown_fields_per_family(world, handlers):
    @fuzz_settings(35)
    @given(fs.family_cases(*handlers))
    def run(case):
        world.check(case)

    run()


@pytest.mark.parametrize("handlers", [
    ("create_connector", "register_group", "update_group"),
    ("register_model",),
    ("predict_model", "predict_algorithm", "deploy_model", "undeploy_model", "put_settings"),
], ids=lambda h: "+".join(h))
def test_a_hostile_string_in_place_of_each_string_field(world, handlers):
    @fuzz_settings(25)
    @given(fs.hostile_leaf_cases(*handlers))
    def run(case):
        world.check(case)

    run()


def test_template_injection_in_parameters_and_connectors(world):
    @fuzz_settings(40)
    @given(fs.injection_cases())
    def run(case):
        world.check(case)

    run()


def test_search_bodies(world):
    @fuzz_settings(120)
    @given(fs.search_cases())
    def run(case):
        world.check(case)

    run()


def test_odd_connectors_registered_and_predicted(world):
    @fuzz_settings(25)
    @given(fs.chains())
    def run(steps):
        world.check_chain(steps)

    run()


def test_arbitrary_credentials_with_the_security_plugin_on():
    with World(security=True) as secured:
        @fuzz_settings(60)
        @given(fs.authorized_cases())
        def run(case):
            secured.check(case)

        run()


@pytest.mark.parametrize("release", ["2.9.0", "2.12.0", "2.19.0", "3.4.0"])
def test_older_releases(release):
    with World(release) as old:
        @fuzz_settings(40)
        @given(fs.route_cases())
        def run(case):
            old.check(case)

        run()
