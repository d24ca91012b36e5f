"""Connector credential encryption at rest, byte-compatible with ML Commons' EncryptorImpl."""
from __future__ import annotations

import base64
import binascii
import logging
import secrets
import threading
from collections.abc import Mapping
from typing import Any

from mlcommons_emu.errors import CredentialError

__all__ = ["CredentialCipher", "generate_master_key"]

# ML Commons (org.opensearch.ml.engine.encryptor.EncryptorImpl) generates a 32-byte
# AES-256 master key, keeps it Base64-encoded (with padding, 44 chars) in the
# .plugins-ml-config index, and encrypts each connector credential value on its own with
# the AWS Encryption SDK.  Mirroring the exact SDK configuration below means a stored
# connector document can be decrypted by either the real plugin or the emulator given
# the same master key.
_MASTER_KEY_BYTES = 32

# The SDK's raw-AES keyring in EncryptorImpl: JceMasterKey.getInstance(key, "Custom", "",
# "AES/GCM/NOPADDING").  The provider id and the (empty) key id are written into every
# encrypted data key, so they must match for cross-decryption to work.
_PROVIDER_ID = "Custom"
_KEY_ID = b""


def generate_master_key() -> str:
    """Return a fresh master key: standard Base64 (with padding) of 32 random bytes."""
    return base64.b64encode(secrets.token_bytes(_MASTER_KEY_BYTES)).decode("ascii")


def _decode_master_key(master_key_b64: str) -> bytes:
    # Never echo the key in the message: it is the secret protecting every credential.
    if not isinstance(master_key_b64, (str, bytes)):
        raise ValueError("master key must be a Base64 string")
    try:
        raw = base64.b64decode(master_key_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("master key is not valid Base64") from exc
    if len(raw) != _MASTER_KEY_BYTES:
        raise ValueError(
            f"master key must decode to exactly {_MASTER_KEY_BYTES} bytes, got {len(raw)}"
        )
    return raw


class _DropCloseNoise(logging.Filter):
    """Drop the SDK's "Error on closing" record after a failed decrypt.

    EncryptionSDKClient.decrypt reads inside ``with StreamDecryptor(...)``; when the read
    fails (wrong key, tampering) __exit__ calls close(), which raises "Footer not read",
    and the SDK logs that at ERROR with a full traceback while calling it "safe to
    ignore".  The real failure is already reported as a CredentialError, so the record is
    pure noise on every bad credential.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "Error on closing"


def _install_log_filter() -> None:
    logger = logging.getLogger("aws_encryption_sdk.streaming_client")
    if not any(isinstance(f, _DropCloseNoise) for f in logger.filters):
        logger.addFilter(_DropCloseNoise())


_provider_class: type | None = None
_provider_class_lock = threading.Lock()


def _custom_provider_class() -> type:
    """Define (once per process) the RawMasterKeyProvider subclass.

    The class has to subclass an aws_encryption_sdk type, so it can only be defined after
    that import; importing the SDK costs ~0.25 s and drags in boto3, which the emulator
    avoids paying at module import time.
    """
    global _provider_class
    with _provider_class_lock:
        if _provider_class is not None:
            return _provider_class

        from aws_encryption_sdk.identifiers import EncryptionKeyType, WrappingAlgorithm
        from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
        from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider

        class _CustomKeyProvider(RawMasterKeyProvider):  # type: ignore[misc]
            """Single static AES-256-GCM wrapping key, as in EncryptorImpl."""

            provider_id = _PROVIDER_ID

            def __init__(self, **kwargs: Any) -> None:  # pylint: disable=unused-argument
                # MasterKeyProvider does its set-up in __new__; nothing to chain to here.
                self._wrapping_key: bytes = b""

            def _get_raw_key(self, key_id: bytes) -> WrappingKey:
                return WrappingKey(
                    wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                    wrapping_key=self._wrapping_key,
                    wrapping_key_type=EncryptionKeyType.SYMMETRIC,
                )

        _install_log_filter()
        _provider_class = _CustomKeyProvider
        return _provider_class


def _short_cause(exc: BaseException) -> str:
    """Name the failure without quoting SDK messages, which may carry message bytes."""
    name = type(exc).__name__
    if name == "InvalidTag":
        # The data key could not be unwrapped (another master key) or a frame failed its
        # GCM check (tampered body).
        return "authentication failed (wrong master key or corrupted ciphertext)"
    if name == "InvalidSignature":
        return "signature verification failed (corrupted ciphertext)"
    if name in {"SerializationError", "NotSupportedError"}:
        return "malformed ciphertext"
    if name in {"DecryptKeyError", "MasterKeyProviderError", "ActionNotAllowedError"}:
        return "unable to decrypt the data key with the configured master key"
    return name


class CredentialCipher:
    """Encrypts/decrypts connector credential values with one master key."""

    def __init__(self, master_key_b64: str) -> None:
        # Validate eagerly so a bad key fails at configuration time, but defer the SDK
        # import (and client construction) to the first encrypt/decrypt.
        self._key = _decode_master_key(master_key_b64)
        self._lock = threading.Lock()
        self._client: Any = None
        self._provider: Any = None
        self._algorithm: Any = None

    def __repr__(self) -> str:
        return "CredentialCipher(<master key hidden>)"

    def _sdk(self) -> tuple[Any, Any, Any]:
        """Build the SDK client and key provider once and reuse them for every call."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import aws_encryption_sdk
                    from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy

                    provider = _custom_provider_class()()
                    provider._wrapping_key = self._key  # pylint: disable=protected-access
                    provider.add_master_key(_KEY_ID)
                    # EncryptorImpl builds AwsCrypto with REQUIRE_ENCRYPT_REQUIRE_DECRYPT and
                    # the SDK's default (committing, ECDSA-signed) suite; pinning the suite
                    # keeps the emulator's output identical even if the SDK default moves.
                    self._algorithm = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
                    self._provider = provider
                    self._client = aws_encryption_sdk.EncryptionSDKClient(
                        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
                    )
        return self._client, self._provider, self._algorithm

    def encrypt(self, plaintext: str) -> str:
        """Return standard Base64 of the full SDK message (starts with "AgV4")."""
        client, provider, algorithm = self._sdk()
        # No encryption context: EncryptorImpl passes none, and adding one would make the
        # message undecryptable by a plugin that does not supply the same context.
        # plainText.getBytes(UTF_8): a lone surrogate (legal in a Java string) becomes "?"
        message, _header = client.encrypt(
            source=plaintext.encode("utf-8", "replace"),
            key_provider=provider,
            algorithm=algorithm,
        )
        return base64.b64encode(message).decode("ascii")

    def decrypt(self, ciphertext_b64: str) -> str:
        """Reverse :meth:`encrypt`; any failure becomes a CredentialError.

        Messages carry only a short cause, never the ciphertext or (partial) plaintext,
        because they surface in REST error bodies and logs.
        """
        try:
            message = base64.b64decode(ciphertext_b64, validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise CredentialError(
                "Failed to decrypt credential: ciphertext is not valid Base64"
            ) from exc
        try:
            client, provider, _algorithm = self._sdk()
            plaintext, _header = client.decrypt(source=message, key_provider=provider)
        except Exception as exc:  # the SDK raises a wide, version-dependent set of types
            raise CredentialError(f"Failed to decrypt credential: {_short_cause(exc)}") from exc
        # Decode outside any ``except`` block: UnicodeDecodeError.object holds the decrypted
        # bytes, so it must not end up as __cause__/__context__ (tracebacks would show it).
        text: str | None
        try:
            text = plaintext.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is None:
            raise CredentialError("Failed to decrypt credential: plaintext is not valid UTF-8")
        return text

    def encrypt_map(self, values: Mapping[str, str]) -> dict[str, str]:
        """Encrypt every value of a connector ``credential`` map, keeping its keys."""
        # The plugin stores credential values as strings; coerce others the same way.
        return {
            key: self.encrypt(value if isinstance(value, str) else str(value))
            for key, value in values.items()
        }

    def decrypt_map(self, values: Mapping[str, str]) -> dict[str, str]:
        """Decrypt every value of an encrypted ``credential`` map, keeping its keys."""
        return {key: self.decrypt(value) for key, value in values.items()}
