"""API Gateway's Lambda REQUEST authorizer (AWS only): which usage plan a request counts against.

infra/package.py deploys `handler` as its own function and puts it in front of every
authenticated route (identity source: the Authorization header; result cached by API Gateway
for `RESULT_TTL_SECONDS`). It verifies the bearer token as the app does (`auth.authenticate`,
with its per-container cache) and answers, as `usageIdentifierKey`, the API Gateway key of the
caller's site and role (store/gateway_keys.py), so the usage plan of that role limits the
caller across every Lambda container. The app still authenticates and authorizes each request
itself (401, 403 and its in-process bucket as before): the authorizer only meters, and refuses
what can never pass (no token, an unknown or revoked one: 401 in the API's error shape through
the UNAUTHORIZED gateway response). Anything else it raises (DynamoDB still throttled after
botocore's retries, a timeout) is API Gateway's AUTHORIZER_FAILURE: 503 `ServiceUnavailable`
with `Retry-After` (infra/template.json), as the app answers `Busy`.

Revocation: API Gateway may reuse an Allow for RESULT_TTL_SECONDS (30 s) and the authorizer's
container may have verified the key up to auth.VERIFIED_SECONDS (30 s) before that, so a
revoked key may still be metered as allowed for 30 + 30 = 60 s at most; the app's own check in
the API container refuses it within auth.VERIFIED_SECONDS (30 s) of the revocation anyway.

Locally there is no API Gateway and this module is never imported by the app.
"""

from __future__ import annotations

from typing import Any

from chalicelib.auth import authenticate
from chalicelib.errors import Unauthorized
from chalicelib.store import gateway_keys

# API Gateway's authorizer result cache; + auth.VERIFIED_SECONDS must stay within the 60 s
# the contract allows for revocation (tests/infra/test_packaged_template.py checks the sum).
RESULT_TTL_SECONDS = 30


class Refused(Exception):
    """API Gateway answers 401 (its UNAUTHORIZED response) only to this exact message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _api_resource(method_arn: str) -> str:
    """Every method of the stage: the Allow is cached per token and reused on other routes.

    `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}` -> `.../{api}/{stage}/*`.
    """
    prefix, _, rest = method_arn.partition(":execute-api:")
    parts = rest.split("/")
    if not prefix or len(parts) < 2:
        raise ValueError(f"not an execute-api method ARN: {method_arn!r}")
    return f"{prefix}:execute-api:{parts[0]}/{parts[1]}/*"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    try:
        principal = authenticate(headers.get("authorization"))
    except Unauthorized:
        raise Refused() from None
    space = gateway_keys.namespace()
    if not space:
        raise RuntimeError(f"{gateway_keys.NAMESPACE_ENV} is not set: the deployment names the usage keys")
    return {
        "principalId": principal.by,
        "policyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": _api_resource(str(event["methodArn"]))}]},
        "usageIdentifierKey": gateway_keys.key_value(space, principal.site, principal.role),
        "context": {"role": principal.role, "site": principal.site or "", "keyId": principal.key_id or ""},
    }
