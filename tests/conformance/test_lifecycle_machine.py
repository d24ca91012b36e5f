"""The exported stateful conformance machine, run against the emulator (newest and 2.9)."""
from __future__ import annotations

import os

import pytest
from hypothesis import settings

from mlcommons_emu.testing.conformance import ENV_URL, HttpTarget, LifecycleMachine, TargetUnreachable

SETTINGS = settings(max_examples=15, stateful_step_count=12, deadline=None)


class NewestLifecycle(LifecycleMachine):
    pass


class SeedLifecycle(LifecycleMachine):
    emulator_options = {"opensearch_version": "2.9.0"}


TestNewestLifecycle = NewestLifecycle.TestCase
TestNewestLifecycle.settings = SETTINGS
TestSeedLifecycle = SeedLifecycle.TestCase
TestSeedLifecycle.settings = SETTINGS


def test_an_unreachable_cluster_fails_fast_with_a_clear_message():
    with pytest.raises(TargetUnreachable, match=r"cannot reach ML Commons at http://127\.0\.0\.1:9"):
        HttpTarget("http://127.0.0.1:9", timeout=2)


def test_a_malformed_url_is_refused():
    with pytest.raises(ValueError, match=ENV_URL):
        HttpTarget("not a url")


@pytest.mark.skipif(not os.environ.get(ENV_URL), reason=f"set {ENV_URL} to run the machine against a cluster")
def test_machine_against_the_configured_cluster():
    LifecycleMachine.TestCase.settings = SETTINGS
    LifecycleMachine.TestCase().runTest()
