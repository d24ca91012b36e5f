"""AWS Signature Version 4 for aws_sigv4 connectors, by botocore's signer."""
from __future__ import annotations

import logging
import threading
from typing import Mapping

_signing = threading.local()
_WITHHELD = "<withheld: its signed headers carry decrypted connector credentials>"


class _WithholdCanonicalRequest(logging.Filter):
    """Blank the CanonicalRequest that botocore.auth logs at DEBUG while :func:`sign` runs.

    SigV4Auth.add_auth logs the canonical request, whose signed headers hold the
    decrypted session token (and any ``${credential.*}`` header value) in clear.  Only
    records emitted by this module's own signing, on its own thread, are touched.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_signing, "active", False) and str(record.msg).startswith("CanonicalRequest:"):
            record.args = (_WITHHELD,)
        return True


def _install_filter() -> None:
    logger = logging.getLogger("botocore.auth")
    if not any(isinstance(f, _WithholdCanonicalRequest) for f in logger.filters):
        logger.addFilter(_WithholdCanonicalRequest())


def sign(method: str, url: str, headers: Mapping[str, str], body: bytes, *, access_key: str,
         secret_key: str, session_token: str | None, region: str, service: str) -> dict[str, str]:
    """Headers with ``Authorization``, ``X-Amz-Date`` (and the security token) added.

    botocore is imported here, not at module load: it is heavy and only aws_sigv4
    connectors need it.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    _install_filter()
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    credentials = Credentials(access_key, secret_key, session_token or None)
    _signing.active = True
    try:
        SigV4Auth(credentials, service, region).add_auth(request)
    finally:
        _signing.active = False
    return {k: v for k, v in request.headers.items()}
