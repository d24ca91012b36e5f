"""Which OpenSearch / ML Commons release is emulated, and version comparisons on it."""
from __future__ import annotations

import re

import attrs

#: The newest release the references document; the default profile.
NEWEST = "3.8.0"
#: The release of the seed documentation; kept selectable.
SEED = "2.9.0"
#: Releases whose behaviour the emulator knows how to tell apart.
SUPPORTED_MAJOR_MINOR = [(2, m) for m in range(9, 20)] + [(3, m) for m in range(0, 9)]

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


def _parse(text: str) -> tuple[int, int, int]:
    match = _VERSION_RE.match(text.strip())
    if not match:
        raise ValueError(f"not an OpenSearch version: {text!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


_PADDING = {0: (0, 0, 0), 1: (0, 0), 2: (0,)}


@attrs.frozen(order=False, cache_hash=True)
class Release:
    """An emulated OpenSearch release, e.g. ``Release.of("2.9.0")``.

    Compare with tuples: ``release >= (2, 11)`` means "2.11.0 or later".
    """

    major: int
    minor: int
    patch: int = 0
    #: (major, minor, patch), kept: releases are compared several times on every request
    _k: tuple[int, int, int] = attrs.field(init=False, repr=False, eq=False, hash=False)

    #: (major, minor): ``>=`` and ``<`` against a (major, minor) tuple need no padding
    _mm: tuple[int, int] = attrs.field(init=False, repr=False, eq=False, hash=False)

    @_k.default
    def _default_k(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    @_mm.default
    def _default_mm(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @classmethod
    def of(cls, text: str) -> "Release":
        major, minor, patch = _parse(text)
        if (major, minor) not in SUPPORTED_MAJOR_MINOR:
            raise ValueError(
                f"unsupported OpenSearch version {text}: choose one from 2.9 to 3.8"
            )
        return cls(major, minor, patch)

    @property
    def number(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def plugin_version(self) -> str:
        """ML Commons' own version string, e.g. ``3.8.0.0``."""
        return f"{self.number}.0"

    def _key(self) -> tuple[int, int, int]:
        return self._k

    @staticmethod
    def _other(other: object) -> tuple[int, ...]:
        # comparisons run on every request: keep the common (major, minor) tuple cheap
        if type(other) is tuple:
            return other if len(other) >= 3 else other + _PADDING[len(other)]  # type: ignore[operator]
        if isinstance(other, Release):
            return other._k
        return NotImplemented  # type: ignore[return-value]

    def __ge__(self, other: object) -> bool:
        if type(other) is tuple and len(other) == 2:
            return self._mm >= other
        return self._k >= self._other(other)

    def __gt__(self, other: object) -> bool:
        return self._k > self._other(other)

    def __le__(self, other: object) -> bool:
        return self._k <= self._other(other)

    def __lt__(self, other: object) -> bool:
        if type(other) is tuple and len(other) == 2:
            return self._mm < other
        return self._k < self._other(other)

    def __str__(self) -> str:
        return self.number
