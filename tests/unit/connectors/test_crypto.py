"""Unit tests for mlcommons_emu.connectors.crypto (EncryptorImpl-compatible credential cipher)."""
from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlcommons_emu.connectors.crypto import CredentialCipher, generate_master_key
from mlcommons_emu.errors import CredentialError

REPO_ROOT = Path(__file__).resolve().parents[3]
SECRET = "AKIAEXAMPLESECRETVALUE-1234567890"


@pytest.fixture(scope="module")
def cipher() -> CredentialCipher:
    return CredentialCipher(generate_master_key())


def test_generate_master_key_is_44_char_base64_of_32_bytes() -> None:
    key = generate_master_key()
    assert len(key) == 44
    assert key.endswith("=")
    assert len(base64.b64decode(key, validate=True)) == 32
    assert generate_master_key() != key


@pytest.mark.parametrize(
    "plaintext",
    [SECRET, "", "pässwörd-日本語-🔑", "x" * 10_000, "line1\nline2\t\"quoted\""],
)
def test_round_trip(cipher: CredentialCipher, plaintext: str) -> None:
    assert cipher.decrypt(cipher.encrypt(plaintext)) == plaintext


def test_round_trip_across_instances_with_same_key() -> None:
    key = generate_master_key()
    assert CredentialCipher(key).decrypt(CredentialCipher(key).encrypt(SECRET)) == SECRET


def test_ciphertext_is_sdk_v2_message_and_randomised(cipher: CredentialCipher) -> None:
    first = cipher.encrypt(SECRET)
    second = cipher.encrypt(SECRET)
    # "AgV4" = Base64 of 0x02 (message format v2) 0x05 0x78 (suite 0x0578,
    # AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384).
    assert first.startswith("AgV4")
    assert second.startswith("AgV4")
    assert first != second
    base64.b64decode(first, validate=True)


def test_ciphertext_records_custom_provider_and_empty_key_id(cipher: CredentialCipher) -> None:
    # The encrypted data key must name provider "Custom" for the Java plugin to find it.
    message = base64.b64decode(cipher.encrypt(SECRET))
    assert b"Custom" in message


def test_ciphertext_never_contains_plaintext(cipher: CredentialCipher) -> None:
    ciphertext = cipher.encrypt(SECRET)
    raw = base64.b64decode(ciphertext)
    assert SECRET not in ciphertext
    assert SECRET.encode() not in raw


def test_decrypt_with_other_key_raises_without_leaking(
    cipher: CredentialCipher, caplog: pytest.LogCaptureFixture
) -> None:
    ciphertext = cipher.encrypt(SECRET)
    other = CredentialCipher(generate_master_key())
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(CredentialError) as info:
            other.decrypt(ciphertext)
    message = str(info.value)
    assert message.startswith("Failed to decrypt credential")
    assert info.value.reason == message
    assert SECRET not in message
    assert ciphertext not in message
    assert isinstance(info.value.__cause__, Exception)
    for record in caplog.records:
        text = record.getMessage()
        assert SECRET not in text and ciphertext not in text
    # The SDK's "Error on closing" traceback is filtered as noise.
    assert not [r for r in caplog.records if r.getMessage() == "Error on closing"]


def _flip_byte(ciphertext_b64: str, index: int) -> str:
    raw = bytearray(base64.b64decode(ciphertext_b64))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("where", ["header", "body", "signature"])
def test_tampered_ciphertext_raises(cipher: CredentialCipher, where: str) -> None:
    ciphertext = cipher.encrypt(SECRET)
    size = len(base64.b64decode(ciphertext))
    index = {"header": 60, "body": size - 120, "signature": size - 5}[where]
    with pytest.raises(CredentialError) as info:
        cipher.decrypt(_flip_byte(ciphertext, index))
    assert SECRET not in str(info.value)


def test_truncated_ciphertext_raises(cipher: CredentialCipher) -> None:
    raw = base64.b64decode(cipher.encrypt(SECRET))
    with pytest.raises(CredentialError):
        cipher.decrypt(base64.b64encode(raw[:-10]).decode())


@pytest.mark.parametrize("bad", ["", "not base64!!", "AgV4", base64.b64encode(b"junk").decode()])
def test_garbage_ciphertext_raises(cipher: CredentialCipher, bad: str) -> None:
    with pytest.raises(CredentialError) as info:
        cipher.decrypt(bad)
    assert str(info.value).startswith("Failed to decrypt credential")
    if bad:
        assert bad not in str(info.value)


def test_decrypt_non_string_raises_credential_error(cipher: CredentialCipher) -> None:
    with pytest.raises(CredentialError):
        cipher.decrypt(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "key",
    [
        base64.b64encode(b"\x00" * 16).decode(),
        base64.b64encode(b"\x00" * 31).decode(),
        base64.b64encode(b"\x00" * 33).decode(),
        base64.b64encode(b"\x00" * 64).decode(),
        "",
        "not base64 at all!",
    ],
)
def test_bad_master_key_raises_value_error(key: str) -> None:
    with pytest.raises(ValueError):
        CredentialCipher(key)


def test_bad_master_key_message_does_not_echo_key() -> None:
    key = base64.b64encode(b"\x07" * 16).decode()
    with pytest.raises(ValueError) as info:
        CredentialCipher(key)
    assert key not in str(info.value)


def test_repr_hides_key() -> None:
    key = generate_master_key()
    assert key not in repr(CredentialCipher(key))


def test_map_helpers_keep_keys(cipher: CredentialCipher) -> None:
    credential = {"access_key": "AKIA123", "secret_key": SECRET, "session_token": "tök"}
    encrypted = cipher.encrypt_map(credential)
    assert set(encrypted) == set(credential)
    assert list(encrypted) == list(credential)
    for name, value in encrypted.items():
        assert value.startswith("AgV4")
        assert value != credential[name]
    assert cipher.decrypt_map(encrypted) == credential


def test_encrypt_map_stringifies_non_str_values(cipher: CredentialCipher) -> None:
    encrypted = cipher.encrypt_map({"port": 443, "flag": True})  # type: ignore[dict-item]
    assert cipher.decrypt_map(encrypted) == {"port": "443", "flag": "True"}


def test_empty_maps(cipher: CredentialCipher) -> None:
    assert cipher.encrypt_map({}) == {}
    assert cipher.decrypt_map({}) == {}


def test_decrypt_map_propagates_credential_error(cipher: CredentialCipher) -> None:
    other = CredentialCipher(generate_master_key())
    with pytest.raises(CredentialError):
        cipher.decrypt_map({"secret_key": other.encrypt(SECRET)})


def test_import_and_construction_do_not_import_sdk() -> None:
    code = textwrap.dedent(
        """
        import sys
        import mlcommons_emu.connectors.crypto as crypto
        assert "aws_encryption_sdk" not in sys.modules, "imported at module import"
        c = crypto.CredentialCipher(crypto.generate_master_key())
        assert "aws_encryption_sdk" not in sys.modules, "imported at construction"
        assert c.decrypt(c.encrypt("v")) == "v"
        assert "aws_encryption_sdk" in sys.modules
        """
    )
    # A fresh interpreter: this test process has long since imported the SDK.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr


def test_sdk_client_is_built_once_per_cipher() -> None:
    cipher = CredentialCipher(generate_master_key())
    cipher.encrypt("a")
    client, provider, _ = cipher._sdk()
    cipher.decrypt(cipher.encrypt("b"))
    assert cipher._sdk()[0] is client
    assert cipher._sdk()[1] is provider
