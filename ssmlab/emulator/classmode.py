"""Class mode: every request signed by a participant or the facilitator, and a participant kept to their own lab.

AWS's order, kept: authenticate (the access key must be one the class knows, and the SigV4 signature must be
made with its secret: `InvalidClientTokenId`, `AuthFailure`, `SignatureDoesNotMatch` otherwise), then authorise
the action against the caller's identity policy. A participant's policy is `learner.policy(lab)`, the JSON
`ssmlab policy learner --lab NAME` prints for a real account, evaluated by `ssmlab.policy` with the request's
context from `access` (the resources' tags, the tags asked for): a refusal is AccessDenied in the service's shape
(`UnauthorizedOperation` for EC2), and the request never reaches moto, so nothing changes. The facilitator may
do anything, as the class account's administrator.

The simulation's own choice, named: on AWS, EC2's Describe* cannot be scoped (no resource-level permissions), so a
participant can list every lab in a shared account; here, a describe that names another lab's resource (by id or
in a filter) is refused with UnauthorizedOperation, so a participant cannot read another's lab by naming it. A
describe that names nothing still lists every lab, as on AWS. The emulator's own requests (the simulated agents,
the dashboard) carry its per-process mark and are not authorised again. Of ssmlab's own routes, those that change
the emulator for everybody or show everybody's calls (faults, responders, the call log) are the facilitator's.
"""

from __future__ import annotations

import base64
import json
import logging
from functools import lru_cache
from typing import Any, Callable, Iterable

from ssmlab import classkeys, learner
from ssmlab import policy as iam
from ssmlab.emulator import access, principal, sigv4
from ssmlab.emulator.protocol import DEFAULT_ACCOUNT_ID, AwsError, AwsRequest
from ssmlab.emulator.wsgi import REQUEST_KEY, is_internal, send, send_json
from ssmlab.model import Policy

log = logging.getLogger("ssmlab.emulator")

FACILITATOR_ROUTES = (("PUT", "/ssmlab/faults"), ("PUT", "/ssmlab/responders"), ("GET", "/ssmlab/calls"),
                      ("DELETE", "/ssmlab/calls"))
_INVALID_TOKEN = "The security token included in the request is invalid."
_BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. "
                  "Check your AWS Secret Access Key and signing method.")


def install(app: Any, roster: classkeys.Roster) -> None:
    """Authenticate and authorise every AWS request (outermost: a refused request is logged, nothing else)."""
    app.roster = roster
    inner = app.aws_app

    def authorised(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = environ.get(REQUEST_KEY)
        if is_internal(environ):
            return inner(environ, start_response)
        if request is None:
            return send_json(start_response, {"ok": False, "error": "this emulator runs a class: sign every request "
                                              "with your class keys (SSMLAB_ACCESS_KEY_ID)"}, "403 Forbidden")
        try:
            caller = authenticate(roster, request, environ)
            if caller.lab is not None:
                authorise(caller, request)
        except AwsError as refused:
            from ssmlab.emulator.rendering import error_response

            log.info("refused %s %s for %s: %s", request.service, request.action, request.access_key, refused.code)
            return send(start_response, error_response(request, refused.status, refused.code, refused.message))
        token = principal.acting_as(caller)
        try:
            return inner(environ, start_response)
        finally:
            principal.done(token)

    app.aws_app = authorised
    for route in FACILITATOR_ROUTES:
        if route in app.routes:
            app.routes[route] = _facilitator_only(roster, app.routes[route])


def authenticate(roster: classkeys.Roster, request: AwsRequest, environ: dict[str, Any]) -> principal.Principal:
    """The principal whose key signed the request; AwsError as AWS answers a key it does not know or a bad signature."""
    signed = sigv4.claim(request.headers, environ.get("QUERY_STRING", ""))
    key = signed.access_key_id if signed else request.access_key
    if key == classkeys.FACILITATOR_KEY_ID:
        caller, secret = principal.Principal("facilitator", None), roster.facilitator.secret_access_key
    elif (lab := classkeys.lab_of_key(key)) is not None:
        caller, secret = principal.Principal(lab, lab), roster.credentials(lab).secret_access_key
    else:
        raise _unknown_key(request)
    if signed is None or not sigv4.verify(signed, secret, environ, request.body):
        raise AwsError(403, "SignatureDoesNotMatch", _BAD_SIGNATURE)
    return caller


def _unknown_key(request: AwsRequest) -> AwsError:
    if request.protocol == "ec2":
        return AwsError(401, "AuthFailure", "AWS was not able to validate the provided access credentials")
    if request.service == "s3":
        return AwsError(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    if request.protocol in ("json", "rest-json"):
        return AwsError(400, "UnrecognizedClientException", _INVALID_TOKEN)
    return AwsError(403, "InvalidClientTokenId", _INVALID_TOKEN)


@lru_cache(maxsize=512)
def learner_policies(lab: str) -> tuple[Policy, ...]:
    return (Policy(f"ssmlab-learner-{lab}", learner.policy(lab, account=DEFAULT_ACCOUNT_ID)),)


def authorise(caller: principal.Principal, request: AwsRequest) -> None:
    """Raise the AwsError AWS would answer when the caller's policy does not allow every resource the call touches."""
    if not request.action:
        raise _denied(caller, request, f"{request.service}:*", "*")
    action = learner.iam_action(request.service, request.action)
    try:
        scoped = learner.scopes(action)
    except ValueError:
        raise _denied(caller, request, action, "*") from None
    if request.service == "ec2" and request.action.startswith(("Describe", "Get")):
        _fence(caller, request, action)
    context = {"aws:username": caller.name, "aws:userid": caller.user_id, "aws:PrincipalArn": caller.arn,
               f"aws:PrincipalTag/{learner.TAG_KEY}": caller.lab, "aws:RequestedRegion": request.region}
    if learner.READ in scoped:  # authorised on "*" (AWS scopes it no further)
        checks = [(action, access.Resource("*"))]
    else:
        checks = [(action, r) for r in access.resources(request, action)]
        if not checks:
            return  # names nothing that exists: moto answers NotFound (the simulation's choice, `access`)
    if action in ("ec2:RunInstances", "ec2:AssociateIamInstanceProfile"):
        checks += [("iam:PassRole", access.Resource(arn, {"iam:PassedToService": "ec2.amazonaws.com"}))
                   for arn in access.passed_roles(request)]
    policies = learner_policies(str(caller.lab))
    for checked, resource in checks:
        if not iam.evaluate(policies, checked, resource.arn, {**context, **resource.context}).allowed:
            raise _denied(caller, request, checked, resource.arn)


def _fence(caller: principal.Principal, request: AwsRequest, action: str) -> None:
    for resource_id in access.ec2_ids(request, acted_on=False):
        tags = access.ec2_tags(request, resource_id) or {}
        owner = tags.get(learner.TAG_KEY)
        if owner and owner != caller.lab:
            kind = access.EC2_TYPES[resource_id.split("-", 1)[0]]
            raise _denied(caller, request, action,
                          f"arn:aws:ec2:{request.region}:{request.account_id}:{kind}/{resource_id}",
                          f" (ssmlab emulator: {resource_id} belongs to lab {owner}; in class mode a describe that "
                          "names another lab's resource is refused, which AWS cannot do for EC2 describes)")


def _denied(caller: principal.Principal, request: AwsRequest, action: str, resource: str, note: str = "") -> AwsError:
    """AWS's words for an implicit deny (IAM User Guide, "Troubleshoot access denied error messages")."""
    why = (f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} "
           f"because no identity-based policy allows the {action} action{note}")
    if request.protocol == "ec2":
        encoded = base64.urlsafe_b64encode(json.dumps(
            {"allowed": False, "action": action, "resource": resource, "principal": caller.arn}).encode()).decode()
        return AwsError(403, "UnauthorizedOperation", f"You are not authorized to perform this operation. {why}. "
                        f"Encoded authorization failure message: {encoded}")
    if request.protocol in ("json", "rest-json"):
        return AwsError(400, "AccessDeniedException", why)
    return AwsError(403, "AccessDenied", why)


def _facilitator_only(roster: classkeys.Roster, handler: Callable[..., Any]) -> Callable[..., Any]:
    """A route only the facilitator's signed request (or the dashboard token) may use."""
    import hmac

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        bearer = str(environ.get("HTTP_AUTHORIZATION", ""))
        if bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:].strip(), roster.dashboard_token):
            return handler(environ, start_response)
        signed = sigv4.claim(sigv4.headers_of(environ), environ.get("QUERY_STRING", ""))
        if signed and signed.access_key_id == classkeys.FACILITATOR_KEY_ID and sigv4.verify(
                signed, roster.facilitator.secret_access_key, environ, sigv4.body_of(environ)):
            return handler(environ, start_response)
        return send_json(start_response, {"ok": False, "error": "the facilitator's route: sign with the facilitator's "
                                          "keys (ssmlab class keys --facilitator)"}, "403 Forbidden")

    return guarded
