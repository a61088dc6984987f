"""schemathesis hooks (loaded with SCHEMATHESIS_HOOKS=hooks): a check for recipe-api's /graphql, and
per-request Idempotency-Keys for the REST runs.

schemathesis' GraphQL "server error" check (ST113, part of not_a_server_error) fails on any entry
in `errors`, so recipe-api's coded answers to invalid arguments (VALIDATION_FAILED for
`recipe(id: 0)`, QUERY_TOO_COMPLEX, ...) would count as server errors. This check replaces it: a
5xx, or an error without `extensions.code` or coded INTERNAL, is a server error; a coded client
error is the contract working (README, "GraphQL ... errors carry extensions.code").
"""

import itertools
import os
import re

import schemathesis
from schemathesis.specs.graphql.schemas import GraphQLSchema

SERVER_SIDE_CODES = {"INTERNAL", "INTERNAL_SERVER_ERROR"}


@schemathesis.check
def graphql_errors_are_coded(ctx, response, case):
    # Registered checks join `--checks all` of the REST runs too: there it has nothing to say.
    if not isinstance(case.operation.schema, GraphQLSchema):
        return None
    if response.status_code >= 500:
        raise AssertionError(f"server error: HTTP {response.status_code}")
    try:
        payload = response.json()
    except ValueError:
        raise AssertionError("answer is not JSON")
    for error in (payload or {}).get("errors") or []:
        code = ((error or {}).get("extensions") or {}).get("code")
        if not isinstance(code, str) or not code:
            raise AssertionError(f"uncoded GraphQL error: {error.get('message')!r}")
        if code in SERVER_SIDE_CODES:
            raise AssertionError(f"server-side GraphQL error {code}: {error.get('message')!r}")
    return None


IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_issued_keys = itertools.count()
_issued: set[str] = set()


@schemathesis.hook
def before_call(ctx, case, kwargs):
    """Give every request its own Idempotency-Key, as a client does (IETF
    draft-ietf-httpapi-idempotency-key-header, "Idempotency Key": a unique value per request).

    The generator's smallest keys ("0") repeat across requests with different bodies, and both
    services rightly answer those 422 (a key reused with another payload, the draft's "Error
    Scenarios"; services/recipe-api/test covers it): schemathesis' positive-data check would read that
    state conflict as valid data rejected. A valid key stays valid (a unique suffix, within 255
    characters); an invalid one is left as generated, so the negative checks still see it.
    """
    headers = case.headers or {}
    for name in list(headers):
        value = headers[name]
        if value in _issued:
            # A key this hook issued, sent again on purpose: the stateful phase following the
            # ReuseIdempotencyKey link of POST /api/recipes (a replay, or 422 with another body).
            continue
        if name.lower() == "idempotency-key" and isinstance(value, str) and IDEMPOTENCY_KEY.match(value):
            headers[name] = f"{value[:200]}-{os.getpid()}-{next(_issued_keys)}"
            _issued.add(headers[name])


@schemathesis.hook
def filter_case(ctx, case):
    """Through Envoy (FUZZ_THROUGH_ENVOY=1), leave out the probe with the QUERY method.

    QUERY (draft-ietf-httpbis-safe-method-w-body, OpenAPI 3.2) is a method token Envoy's HTTP/1
    codec does not know: the ingress answers 400 with its own plain-text body before any application
    sees the request, as Istio's gateway does (Envoy's `allow_custom_methods` is off by default;
    docs/reliability.md, "Unknown methods at the ingress"). That is
    the proxy, not web-api; web-api itself answers QUERY with 405 and `Allow`, and the run against
    recipe-api's own port keeps the probe.
    """
    return not (os.environ.get("FUZZ_THROUGH_ENVOY") == "1" and case.method.upper() == "QUERY")
