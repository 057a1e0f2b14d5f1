"""ObjectID, and ObjectID.from_name against the values Swift's ObjectID(name:) gives."""

from __future__ import annotations

import json
import os

import pytest

from swiftplasma import ObjectID

# Swift's ObjectID(name:) for these names. The Swift integration test that runs this suite
# (PythonClientTests) computes them with the Swift library and passes them in SWIFT_OBJECT_ID_NAMES;
# without it (pytest run by hand) the table Swift's own unit test checks is used.
SWIFT_VALUES = json.loads(os.environ.get("SWIFT_OBJECT_ID_NAMES", "{}")) or {
    "weights/v3": "09ce030a2777c63d340257c5b5412dd257a17aad",
    "": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4",
    "naïve 名前": "fc9bd1fae49f9cce96e4b43902c101c57501e603",
}


def test_from_name_matches_swift() -> None:
    assert len(SWIFT_VALUES) >= 3
    for name, swift_hex in SWIFT_VALUES.items():
        assert ObjectID.from_name(name).hex() == swift_hex, name


def test_hex_round_trip_and_equality() -> None:
    oid = ObjectID(bytes(range(20)))
    assert oid.hex() == "000102030405060708090a0b0c0d0e0f10111213"
    assert ObjectID.from_hex(oid.hex()) == oid
    assert ObjectID.from_hex(oid.hex().upper()) == oid
    assert hash(ObjectID(bytes(range(20)))) == hash(oid)
    assert bytes(oid) == bytes(range(20))
    assert len({ObjectID.random() for _ in range(1000)}) == 1000


def test_bad_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="20 bytes"):
        ObjectID(b"short")
    with pytest.raises(ValueError, match="40 hex digits"):
        ObjectID.from_hex("abc")
    with pytest.raises(ValueError):
        ObjectID.from_hex("zz" * 20)
    with pytest.raises(AttributeError):
        ObjectID(bytes(20))._bytes = b"x"
