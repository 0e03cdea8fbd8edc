#!/usr/bin/env python3
"""Checks a trust's SCIM endpoint with SCIM tooling from PyPI.

Usage: scim_check.py <server address host:port> <trust host> <token> [--skip-tester]

1. scim2-client (discovering the server from its /Schemas and /ResourceTypes) provisions a
   user, finds them by userName, replaces them, patches them inactive, reads a page, and
   deletes them; each step's result is checked against what was sent.
2. scim2-tester's check_server runs its protocol checks (discovery, CRUD, PATCH add, remove and
   replace on every attribute, attribute selection). Every check must pass or be skipped.

Requests go to the server's address; the Host header names the trust (names under the test
base domain do not resolve here). Prints one JSON object; exits 1 if anything failed.
"""

import json
import sys
import uuid

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import PatchOp, PatchOperation, SearchRequest


class ToServer(httpx2.HTTPTransport):
    """Sends every request to the server's address, keeping the trust's Host header."""

    def __init__(self, address):
        super().__init__()
        self.host, port = address.rsplit(":", 1)
        self.port = int(port)

    def handle_request(self, request):
        request.url = request.url.copy_with(host=self.host, port=self.port)
        return super().handle_request(request)


def client(address, host, token):
    # The base URL as the server names itself (its resources' locations are under it).
    probe = httpx2.Client(headers={"Host": host, "Authorization": f"Bearer {token}"}, timeout=30)
    spc = probe.get(f"http://{address}/scim/v2/ServiceProviderConfig").json()
    base = spc["meta"]["location"].rsplit("/", 1)[0]
    http = httpx2.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        transport=ToServer(address),
        timeout=30,
    )
    scim = SyncSCIMClient(http)
    scim.discover()
    return scim


def run_client(scim, failures):
    UserModel = scim.get_resource_model("User")
    suffix = uuid.uuid4().hex[:8]
    name = f"scim.check.{suffix}@nhs.example"
    user = UserModel(
        user_name=name,
        name={"given_name": "Sam", "family_name": "Check"},
        emails=[{"value": name, "type": "work", "primary": True}],
        active=True,
        external_id=f"ext-{suffix}",
    )
    created = scim.create(user)
    if created.user_name != name or not created.id:
        failures.append(f"create returned {created!r}")
    found = scim.query(UserModel, query_parameters=SearchRequest(filter=f'userName eq "{name.upper()}"'))
    if found.total_results != 1 or found.resources[0].id != created.id:
        failures.append(f"filter by userName found {found.total_results}")
    created.name = type(created.name)(given_name="Samantha", family_name="Check")
    replaced = scim.replace(created)
    if replaced.name.given_name != "Samantha":
        failures.append(f"replace kept {replaced.name!r}")
    op = PatchOp[UserModel](operations=[PatchOperation(op=PatchOperation.Op.replace_, path="active", value=False)])
    patched = scim.modify(UserModel, created.id, op)
    if patched is not None and patched.active is not False:
        failures.append(f"patch active false returned active={patched.active}")
    again = scim.query(UserModel, created.id)
    if again.active is not False:
        failures.append(f"after the patch the user reads active={again.active}")
    page = scim.query(UserModel, query_parameters=SearchRequest(start_index=1, count=1))
    if page.items_per_page != 1 or page.total_results < 1:
        failures.append(f"a page of one gave {page.items_per_page} of {page.total_results}")
    scim.delete(UserModel, created.id)
    gone = scim.query(UserModel, query_parameters=SearchRequest(filter=f'userName eq "{name}"'))
    if gone.total_results != 0:
        failures.append("the deleted user is still listed")
    return created.id


class AssignmentNumbers:
    """Every ESR assignment number, as a sequence to draw examples from (Trellis keeps
    employeeNumber as the assignment number, which scim2-tester cannot know from the schema)."""

    def __len__(self):
        return 10**8

    def __getitem__(self, i):
        return f"{i:08d}"


def run_tester(scim, failures):
    from scim2_tester import Status, check_server

    user = scim.get_resource_model("User")
    for ext in user.get_extension_models().values():
        field = ext.model_fields.get("employee_number")
        if field is not None:
            field.examples = AssignmentNumbers()
    results = check_server(scim, raise_exceptions=False)
    counts = {}
    for r in results:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
        if r.status not in (Status.SUCCESS, Status.SKIPPED):
            failures.append(f"{r.title}: {r.reason}")
    return counts


def main():
    address, host, token = sys.argv[1], sys.argv[2], sys.argv[3]
    failures = []
    out = {}
    scim = client(address, host, token)
    out["client_user"] = str(run_client(scim, failures))
    if "--skip-tester" not in sys.argv:
        out["tester"] = run_tester(client(address, host, token), failures)
    out["failures"] = failures
    print(json.dumps(out, default=str))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
