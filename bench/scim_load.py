#!/usr/bin/env python3
"""Provisions USERS users through SCIM at CONCURRENCY requests at once; prints a JSON summary.

Usage: scim_load.py <server host:port> <trust host> <token> <users> <concurrency>

Each user is a POST /scim/v2/Users as Entra ID sends it: userName, name, a work email,
externalId, the enterprise extension's employeeNumber (an assignment number) and department
(one of 40), and Trellis's staffGroup (one of the HR system's nine). Every response must be
201. Then GET /Users?filter=… finds a sample by userName, and totalResults is checked.
"""

import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2

GROUPS = [
    "Add Prof Scientific and Technic", "Additional Clinical Services", "Administrative and Clerical",
    "Allied Health Professionals", "Estates and Ancillary", "Healthcare Scientists", "Medical and Dental",
    "Nursing and Midwifery Registered", "Students",
]
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
STAFF = "urn:trellis:params:scim:schemas:extension:staff:2.0:User"


def main():
    address, host, token, users, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    headers = {"Host": host, "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    base = f"http://{address}/scim/v2"
    limits = httpx2.Limits(max_connections=workers, max_keepalive_connections=workers)
    client = httpx2.Client(headers=headers, timeout=120, limits=limits)

    def one(i):
        body = {
            "schemas": [USER, ENTERPRISE, STAFF],
            "userName": f"bench.user.{i}@nhs.example",
            "externalId": f"entra-{i}",
            "name": {"givenName": "Bench", "familyName": f"User {i}"},
            "emails": [{"value": f"bench.user.{i}@nhs.example", "type": "work", "primary": True}],
            "active": True,
            ENTERPRISE: {"employeeNumber": f"{50000000 + i:08d}", "department": f"Department {i % 40}"},
            STAFF: {"staffGroup": GROUPS[i % len(GROUPS)]},
        }
        t = time.perf_counter()
        r = client.post(f"{base}/Users", content=json.dumps(body))
        return r.status_code, time.perf_counter() - t, r.text[:300]

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, range(users)))
    took = time.perf_counter() - start
    bad = [r for r in results if r[0] != 201]
    times = sorted(r[1] for r in results)
    listed = client.get(f"{base}/Users", params={"count": "0"}).json()
    found = client.get(f"{base}/Users", params={"filter": f'userName eq "bench.user.{users // 2}@nhs.example"'}).json()
    print(json.dumps({
        "users": users,
        "concurrency": workers,
        "seconds": round(took, 1),
        "users_per_second": round(users / took, 1),
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p99_ms": round(times[int(len(times) * 0.99) - 1] * 1000, 1),
        "refused": len(bad),
        "first_refusal": bad[0] if bad else None,
        "total_results": listed.get("totalResults"),
        "found_by_user_name": found.get("totalResults"),
    }))
    sys.exit(1 if bad or listed.get("totalResults", 0) < users else 0)


if __name__ == "__main__":
    main()
