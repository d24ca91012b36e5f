"""Document and node ids in OpenSearch's formats, from a seedable generator."""
from __future__ import annotations

import base64
import random
import threading
from typing import Callable


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class IdGenerator:
    """Time-based 20-character ids, laid out as OpenSearch's TimeBasedUUIDGenerator does.

    15 bytes -> 20 characters of URL-safe Base64: sequence and timestamp bytes around a
    6-byte "MAC address", so ids made close together share a prefix as real ones do
    (``cleMb4kBJ1eYAeTMFFg4``).  With a ``seed`` the whole stream is reproducible.
    """

    def __init__(self, clock: Callable[[], int], seed: int | None = None) -> None:
        self._clock = clock
        self._random = random.Random(seed)
        self._mac = bytes(self._random.getrandbits(8) for _ in range(6))
        self._sequence = self._random.getrandbits(24)
        self._last_timestamp = 0
        self._lock = threading.Lock()

    def document_id(self) -> str:
        with self._lock:
            self._sequence = (self._sequence + 1) & 0xFFFFFF
            sequence = self._sequence
            timestamp = max(self._last_timestamp, self._clock())
            if sequence == 0:
                timestamp += 1
            self._last_timestamp = timestamp
        out = bytearray()
        out.append(sequence & 0xFF)
        out.append((sequence >> 16) & 0xFF)
        out.append((timestamp >> 16) & 0xFF)
        out.append((timestamp >> 24) & 0xFF)
        out.append((timestamp >> 32) & 0xFF)
        out.append((timestamp >> 40) & 0xFF)
        out.extend(self._mac)
        out.append((timestamp >> 8) & 0xFF)
        out.append((sequence >> 8) & 0xFF)
        out.append(timestamp & 0xFF)
        return _b64(bytes(out))

    def node_id(self) -> str:
        """22 characters: 16 random bytes as UUIDs.randomBase64UUID renders them."""
        raw = bytearray(self._random.getrandbits(8) for _ in range(16))
        raw[6] = (raw[6] & 0x0F) | 0x40  # version 4, as java.util.UUID does
        raw[8] = (raw[8] & 0x3F) | 0x80
        return _b64(bytes(raw))

    def random_bytes(self, n: int) -> bytes:
        return bytes(self._random.getrandbits(8) for _ in range(n))


#: where a seeded emulator's id clock starts (2023-11-14T22:13:20Z)
LOGICAL_EPOCH_MILLIS = 1_700_000_000_000


class _LogicalClock:
    """One millisecond per call from a fixed start: time-based ids without the wall clock."""

    def __init__(self, start: int) -> None:
        self._now = start

    def __call__(self) -> int:
        self._now += 1
        return self._now


def emulator_ids(clock: Callable[[], int], seed: int | None, generation: int = 0) -> IdGenerator:
    """The id generator of an emulator: on the wall clock, or, with a seed, on a logical
    clock, so the same calls give the same ids on every run (document times still follow
    the wall clock).

    ``generation`` counts the seeded starts on one store: each start's logical clock begins
    2**24 ms later than the last one's, so a seeded emulator restarted on a store it wrote
    before never reissues an id held there (sequence and time advance together, so two
    streams with the same seed meet only if their starts differ by a multiple of 2**24
    ids).  A fresh store is generation 0: the same ids on every run.
    """
    if seed is None:
        return IdGenerator(clock)
    return IdGenerator(_LogicalClock(LOGICAL_EPOCH_MILLIS + generation * (1 << 24)), seed=seed)
