"""Document and node ids in OpenSearch's formats.

Document ids follow TimeBasedUUIDGenerator: 15 bytes -> 20 URL-safe Base64 characters, laid out
as seq[0], seq[16], ts[16], ts[24], ts[32], ts[40], 6 MAC bytes, ts[8], seq[8], ts[0].  Ids made
close together therefore share their middle characters, as the references' examples do
(``cleMb4kBJ1eYAeTMFFg4`` / ``vVePb4kBJ1eYAeTM7ljG``).  Node ids are UUIDs.randomBase64UUID:
16 random bytes with version-4 bits, 22 characters.
"""
from __future__ import annotations

import base64
import re

import pytest

from mlcommons_emu.domain.clock import ManualClock, SystemClock
from mlcommons_emu.domain.ids import IdGenerator

DOC_ID = re.compile(r"^[A-Za-z0-9_-]{20}$")
NODE_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
#: characters 4..15 encode bytes 3..11: timestamp bits 24-47 and the 6-byte MAC address
SHARED = slice(4, 16)


def decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def embedded_timestamp(doc_id: str) -> int:
    b = decode(doc_id)
    return (b[5] << 40) | (b[4] << 32) | (b[3] << 24) | (b[2] << 16) | (b[12] << 8) | b[14]


def embedded_sequence(doc_id: str) -> int:
    b = decode(doc_id)
    return (b[1] << 16) | (b[13] << 8) | b[0]


def test_document_id_is_20_url_safe_base64_characters_of_15_bytes():
    ids = IdGenerator(SystemClock())
    for _ in range(1000):
        value = ids.document_id()
        assert DOC_ID.match(value), value
        assert len(decode(value)) == 15


def test_document_ids_are_unique_over_100k_calls_even_within_one_millisecond():
    ids = IdGenerator(ManualClock(), seed=3)
    made = [ids.document_id() for _ in range(100_000)]
    assert len(set(made)) == 100_000


def test_document_ids_are_unique_over_100k_calls_on_the_system_clock():
    ids = IdGenerator(SystemClock())
    assert len({ids.document_id() for _ in range(100_000)}) == 100_000


def test_document_id_embeds_the_clock_time_in_epoch_millis():
    clock = ManualClock(1_712_345_678_901)
    ids = IdGenerator(clock, seed=1)
    assert embedded_timestamp(ids.document_id()) == 1_712_345_678_901
    clock.advance(250)
    assert embedded_timestamp(ids.document_id()) == 1_712_345_679_151


def test_consecutive_document_ids_carry_consecutive_sequence_numbers():
    ids = IdGenerator(ManualClock(), seed=5)
    sequences = [embedded_sequence(ids.document_id()) for _ in range(300)]
    assert all((b - a) % (1 << 24) == 1 for a, b in zip(sequences, sequences[1:]))


def test_ids_made_close_together_share_their_middle_characters():
    clock = ManualClock()
    ids = IdGenerator(clock, seed=11)
    first = ids.document_id()
    later = []
    for _ in range(500):
        clock.advance(1000)  # eight minutes of ids, one a second
        later.append(ids.document_id())
    assert {value[SHARED] for value in later} == {first[SHARED]}
    # ... while the leading characters (sequence) and the tail (low timestamp bits) vary
    assert len({value[:2] for value in later}) > 1
    assert len({value[16:] for value in later}) > 1


def test_generators_with_different_seeds_differ_in_their_node_address_bytes():
    clock = ManualClock()
    a = IdGenerator(clock, seed=1).document_id()
    b = IdGenerator(clock, seed=2).document_id()
    assert decode(a)[6:12] != decode(b)[6:12]


def test_document_id_time_never_goes_backwards():
    clock = ManualClock(1_700_000_100_000)
    ids = IdGenerator(clock, seed=2)
    ids.document_id()
    clock.advance(-60_000)  # the wall clock is set back a minute
    assert embedded_timestamp(ids.document_id()) == 1_700_000_100_000


def test_document_id_timestamps_are_non_decreasing_as_time_moves():
    clock = ManualClock()
    ids = IdGenerator(clock, seed=4)
    stamps = []
    for step in (0, 1, 0, 255, 256, 65_536, 1, 16_777_216, 0):
        clock.advance(step)
        stamps.append(embedded_timestamp(ids.document_id()))
    assert stamps == sorted(stamps)
    assert stamps[-1] == clock.now()


def test_a_seed_and_a_fixed_clock_reproduce_the_whole_id_stream():
    def stream(seed: int) -> list[str]:
        ids = IdGenerator(ManualClock(1_700_000_000_000), seed=seed)
        return [ids.document_id() if i % 3 else ids.node_id() for i in range(60)]

    assert stream(42) == stream(42)
    assert stream(42) != stream(43)


def test_without_a_seed_two_generators_do_not_repeat_each_other():
    clock = ManualClock()
    assert IdGenerator(clock).document_id() != IdGenerator(clock).document_id()
    assert IdGenerator(clock).node_id() != IdGenerator(clock).node_id()


@pytest.mark.parametrize("seed", [None, 0, 7])
def test_node_id_is_22_characters_of_a_version_4_uuid(seed):
    ids = IdGenerator(SystemClock(), seed=seed)
    for _ in range(500):
        value = ids.node_id()
        assert NODE_ID.match(value), value
        raw = decode(value)
        assert len(raw) == 16
        assert raw[6] >> 4 == 4  # version 4
        assert raw[8] >> 6 == 0b10  # IETF variant


def test_node_ids_are_unique():
    ids = IdGenerator(SystemClock(), seed=9)
    assert len({ids.node_id() for _ in range(20_000)}) == 20_000
