"""schemathesis hooks for recipe-api's /graphql (loaded with SCHEMATHESIS_HOOKS=hooks).

schemathesis' GraphQL "server error" check (ST113, part of not_a_server_error) fails on any entry
in `errors`, so recipe-api's coded answers to invalid arguments (VALIDATION_FAILED for
`recipe(id: 0)`, QUERY_TOO_COMPLEX, ...) would count as server errors. This check replaces it: a
5xx, or an error without `extensions.code` or coded INTERNAL, is a server error; a coded client
error is the contract working (README, "GraphQL ... errors carry extensions.code").
"""

import schemathesis

SERVER_SIDE_CODES = {"INTERNAL", "INTERNAL_SERVER_ERROR"}


@schemathesis.check
def graphql_errors_are_coded(ctx, response, case):
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
