"""Checks an Open Badges 3.0 VC-JWT with an independent JOSE library (PyJWT, with `cryptography`).

    python3 tests/peers/verify_badge.py <jwks.json> <credential.jwt> <expected issuer>

Picks the key named by the JOSE header's `kid` (the part after `#`) from the JWKS, verifies the
EdDSA signature, and checks the payload is an OpenBadgeCredential from the expected issuer. Prints
the credential's name and exits 0; exits 1 with the reason otherwise.
"""
import json
import sys

import jwt


def main() -> int:
    jwks_path, token_path, issuer = sys.argv[1:4]
    with open(jwks_path, encoding="utf-8") as f:
        jwks = jwt.PyJWKSet.from_dict(json.load(f))
    with open(token_path, encoding="utf-8") as f:
        token = f.read().strip()
    header = jwt.get_unverified_header(token)
    if header.get("alg") != "EdDSA":
        print(f"not EdDSA: {header}")
        return 1
    kid = str(header.get("kid", "")).rsplit("#", 1)[-1]
    keys = [k for k in jwks.keys if k.key_id == kid]
    if not keys:
        print(f"no key {kid} in the JWKS")
        return 1
    try:
        claims = jwt.decode(token, keys[0].key, algorithms=["EdDSA"], issuer=issuer, options={"verify_aud": False})
    except jwt.PyJWTError as e:
        print(f"refused: {e}")
        return 1
    types = claims.get("type", [])
    if "OpenBadgeCredential" not in types or "VerifiableCredential" not in types:
        print(f"not an OpenBadgeCredential: {types}")
        return 1
    if claims.get("jti") != claims.get("id"):
        print("jti is not the credential's id")
        return 1
    print(claims["credentialSubject"]["achievement"]["name"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
