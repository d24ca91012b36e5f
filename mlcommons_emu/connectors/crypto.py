"""Connector credential encryption at rest, byte-compatible with ML Commons' EncryptorImpl."""
from __future__ import annotations

import base64
import binascii
import logging
import secrets
import threading
from collections.abc import Mapping
from typing import Any

import attrs

from mlcommons_emu.errors import CredentialError

__all__ = ["CredentialCipher", "CredentialDecryptError", "generate_master_key", "validate_master_key"]

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


def validate_master_key(master_key_b64: object) -> str:
    """Return the key unchanged if it is standard Base64 of exactly 32 bytes.

    Raises ValueError otherwise; the message names the problem, never the value.
    """
    if not isinstance(master_key_b64, str):
        raise ValueError("master key must be a Base64 string")
    _decode_master_key(master_key_b64)
    return master_key_b64


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


_BAD_CIPHERTEXT = "com.amazonaws.encryptionsdk.exception.BadCiphertextException"
_CANNOT_UNWRAP = "com.amazonaws.encryptionsdk.exception.CannotUnwrapDataKeyException"
_UNABLE_TO_DECRYPT = "Unable to decrypt any data keys"
_COMMITMENT_FAILED = (
    "Key commitment validation failed. Key identity does not match the identity asserted in "
    "the message. Halting processing of this message."
)


@attrs.frozen
class _Failure:
    """One decrypt failure as the emulator reports it and as the plugin's JVM reports it.

    ``java_exception``/``java_message``: the exception EncryptorImpl.decrypt lets escape
    (RemoteModel wraps it in an MLException whose message is ``<class>: <message>``);
    ``root_cause``: the message of the deepest cause, which is what
    MLExceptionUtils.getRootCauseMessage puts in a deploy task's per-node error.
    """

    summary: str
    java_exception: str | None = None
    java_message: str | None = None
    root_cause: str | None = None


# keyed by the Python SDK's exception class name (its module paths vary between releases)
_SDK_FAILURES: dict[str, _Failure] = {
    # the data key did not unwrap under this master key (or a GCM tag failed): the Java
    # SDK raises CannotUnwrapDataKeyException caused by the JCE's AEADBadTagException
    "InvalidTag": _Failure("authentication failed (wrong master key or corrupted ciphertext)",
                           _CANNOT_UNWRAP, _UNABLE_TO_DECRYPT, "Tag mismatch"),
    "InvalidSignature": _Failure("signature verification failed (corrupted ciphertext)",
                                 _BAD_CIPHERTEXT, "Bad trailing signature", "Bad trailing signature"),
    # no encrypted data key names provider "Custom": nothing was even tried
    "DecryptKeyError": _Failure("unable to decrypt the data key with the configured master key",
                                _CANNOT_UNWRAP, _UNABLE_TO_DECRYPT, _UNABLE_TO_DECRYPT),
    "SerializationError": _Failure("malformed ciphertext"),
    "NotSupportedError": _Failure("malformed ciphertext"),
    "ActionNotAllowedError": _Failure("unable to decrypt the data key with the configured master key"),
}


def _sdk_failure(exc: BaseException) -> _Failure:
    """Name an SDK failure without quoting its message, which may carry message bytes."""
    name = type(exc).__name__
    if name == "MasterKeyProviderError" and str(exc) == _COMMITMENT_FAILED:
        return _Failure("key commitment check failed (corrupted ciphertext)",
                        _BAD_CIPHERTEXT, _COMMITMENT_FAILED, _COMMITMENT_FAILED)
    if name == "MasterKeyProviderError":
        return _SDK_FAILURES["DecryptKeyError"]
    return _SDK_FAILURES.get(name, _Failure(name))


# java.util.Base64.getDecoder(): the basic alphabet, "=" padding optional, nothing else
_BASE64_VALUES = {c: i for i, c in enumerate(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_PAD = ord("=")


def _java_base64_decode(text: str) -> bytes:
    """Decode as ``Base64.getDecoder().decode(String)`` does, or raise ValueError with its
    IllegalArgumentException message.

    Unlike Python's strict decoder it accepts a missing final padding; the string is
    first turned into ISO-8859-1 bytes, so any other character counts as ``?``.
    """
    src = text.encode("latin-1", "replace")
    if len(src) == 1:
        raise ValueError("Input byte[] should at least have 2 bytes for base64 bytes")
    out = bytearray()
    bits, shift, sp = 0, 18, 0
    while sp < len(src):
        byte = src[sp]
        sp += 1
        value = _BASE64_VALUES.get(byte)
        if value is None:
            if byte != _PAD:
                signed = byte - 256 if byte > 127 else byte  # Java bytes are signed
                raise ValueError(f"Illegal base64 character {format(signed, 'x')}")
            if shift == 6:  # "xx=" must be followed by a second "="
                if sp == len(src) or src[sp] != _PAD:
                    raise ValueError("Input byte array has wrong 4-byte ending unit")
                sp += 1
            elif shift == 18:  # "=" opening a unit
                raise ValueError("Input byte array has wrong 4-byte ending unit")
            break
        bits |= value << shift
        shift -= 6
        if shift < 0:
            out += bits.to_bytes(3, "big")
            bits, shift = 0, 18
    if shift == 12:
        raise ValueError("Last unit does not have enough valid bits")
    out += bits.to_bytes(3, "big")[: {18: 0, 6: 1, 0: 2}[shift]]
    if sp < len(src):
        raise ValueError(f"Input byte array has incorrect ending byte at {sp}")
    return bytes(out)


class CredentialDecryptError(CredentialError):
    """A credential value that does not decrypt under the configured master key.

    ``reason`` is the emulator's own short description (never the ciphertext or any
    plaintext).  ``root_cause`` is the text the plugin records for the node in the
    deploy task's ``error`` map (e.g. ``Tag mismatch`` for a wrong master key), and
    ``java_reason`` the message of the MLException the plugin raises around the failure
    (e.g. ``com.amazonaws.encryptionsdk.exception.CannotUnwrapDataKeyException: Unable
    to decrypt any data keys``); where the plugin's text is not known both fall back to
    ``reason``.
    """

    def __init__(self, failure: _Failure) -> None:
        super().__init__(f"Failed to decrypt credential: {failure.summary}")
        self.root_cause = failure.root_cause or self.reason
        self.java_reason = (f"{failure.java_exception}: {failure.java_message}"
                            if failure.java_exception else self.reason)


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
        """Reverse :meth:`encrypt`; any failure becomes a CredentialDecryptError.

        The value is Base64-decoded as the plugin's java.util.Base64 decoder does, and the
        plaintext bytes are read as UTF-8 with replacement characters, as Java's
        ``new String(bytes)`` does.  Messages carry only a short cause, never the
        ciphertext or (partial) plaintext, because they surface in REST error bodies,
        task documents and logs.
        """
        if not isinstance(ciphertext_b64, str):
            raise CredentialDecryptError(_Failure("ciphertext is not a string"))
        try:
            message = _java_base64_decode(ciphertext_b64)
        except ValueError as exc:
            raise CredentialDecryptError(_Failure(
                "ciphertext is not valid Base64", "java.lang.IllegalArgumentException",
                str(exc), str(exc))) from None
        try:
            client, provider, _algorithm = self._sdk()
            plaintext, _header = client.decrypt(source=message, key_provider=provider)
        except Exception as exc:  # the SDK raises a wide, version-dependent set of types
            raise CredentialDecryptError(_sdk_failure(exc)) from exc
        return bytes(plaintext).decode("utf-8", "replace")

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
