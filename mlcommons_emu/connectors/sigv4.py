"""AWS Signature Version 4 for aws_sigv4 connectors, by botocore's signer."""
from __future__ import annotations

from typing import Mapping


def sign(method: str, url: str, headers: Mapping[str, str], body: bytes, *, access_key: str,
         secret_key: str, session_token: str | None, region: str, service: str) -> dict[str, str]:
    """Headers with ``Authorization``, ``X-Amz-Date`` (and the security token) added.

    botocore is imported here, not at module load: it is heavy and only aws_sigv4
    connectors need it.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    credentials = Credentials(access_key, secret_key, session_token or None)
    SigV4Auth(credentials, service, region).add_auth(request)
    return {k: v for k, v in request.headers.items()}
