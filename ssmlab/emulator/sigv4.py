"""Check a request's AWS Signature Version 4, as AWS does before anything else.

In class mode the access key id names the participant, so anybody can claim one; what proves it is the
signature, computed with the secret key only that participant holds. The check recomputes the signature
the way the client did, with botocore's own signer (`SigV4Auth`, `S3SigV4Auth` for S3, which signs the
payload hash the client sent in X-Amz-Content-SHA256 and does not normalise the path), over the headers
the client listed in SignedHeaders and the scope it named in Credential= (AWS General Reference,
"Create a signed AWS API request"). Presigned URLs (X-Amz-Signature in the query) are checked the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import parse_qsl, quote, urlencode

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/(?P<service>[^/\s,]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})")


@dataclass(frozen=True)
class Signed:
    """What a request's signature claims: who signed, for which scope, over which headers."""

    access_key_id: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    presigned: bool = False


def claim(headers: Mapping[str, str], query: str) -> Signed | None:
    """The signature a request carries (headers with lower-case names), or None when it is not SigV4."""
    found = _AUTHORIZATION.match(headers.get("authorization", ""))
    if found:
        return Signed(found["key"], found["region"], found["service"], tuple(found["headers"].split(";")),
                      found["signature"], headers.get("x-amz-date", ""))
    fields = dict(parse_qsl(query, keep_blank_values=True))
    if fields.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or "X-Amz-Signature" not in fields:
        return None
    scope = fields.get("X-Amz-Credential", "").split("/")
    if len(scope) != 5:
        return None
    return Signed(scope[0], scope[2], scope[3], tuple(fields.get("X-Amz-SignedHeaders", "host").split(";")),
                  fields["X-Amz-Signature"], fields.get("X-Amz-Date", ""), presigned=True)


def verify(signed: Signed, secret_access_key: str, environ: dict[str, Any], body: bytes) -> bool:
    """Whether `signed` is the signature of this request under `secret_access_key`."""
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {name: value for name, value in headers_of(environ).items() if name in signed.signed_headers}
    query = environ.get("QUERY_STRING", "")
    if signed.presigned:  # the signature covers the query without itself
        query = urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "X-Amz-Signature"],
                          quote_via=quote)
    path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", "") or "/")
    path = path.split("?", 1)[0]
    request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"),
                         url=f"http://{headers.get('host', 'localhost')}{path}" + (f"?{query}" if query else ""),
                         data=body, headers=headers)
    request.context["timestamp"] = signed.timestamp
    signer_class = S3SigV4Auth if signed.service == "s3" else SigV4Auth
    signer = signer_class(Credentials(signed.access_key_id, secret_access_key), signed.service, signed.region)
    if signed.presigned:
        request.headers.pop("x-amz-content-sha256", None)
        canonical = signer.canonical_request(request).rsplit("\n", 1)[0] + "\nUNSIGNED-PAYLOAD"
    else:
        canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    declared = headers.get("x-amz-content-sha256", "")
    if re.fullmatch(r"[0-9a-f]{64}", declared) and hashlib.sha256(body).hexdigest() != declared:
        return False  # S3 signs the payload's declared hash: a body that is not it is refused too (AWS names
        # that XAmzContentSHA256Mismatch; here it counts as a signature that does not match)
    return hmac.compare_digest(expected, signed.signature)


def headers_of(environ: dict[str, Any]) -> dict[str, str]:
    """A WSGI request's headers, names in lower case (what SignedHeaders lists)."""
    found = {key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            found[key.replace("_", "-").lower()] = str(environ[key])
    return found


def body_of(environ: dict[str, Any]) -> bytes:
    """A WSGI request's body, put back for the handler to read."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def sign(method: str, url: str, body: bytes, access_key_id: str, secret_access_key: str,
         headers: dict[str, str] | None = None) -> dict[str, str]:
    """The headers that sign a request to one of ssmlab's own routes with a class key (service "ssmlab")."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(access_key_id, secret_access_key), "ssmlab", "us-east-1").add_auth(request)
    return dict(request.headers.items())
