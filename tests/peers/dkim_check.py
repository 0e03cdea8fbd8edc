#!/usr/bin/env python3
"""DKIM for Trellis's tests, checked by an independent implementation (dkimpy).

    python3 tests/peers/dkim_check.py keygen <dir>
        Writes <dir>/private.pem (an RSA 2048 key in PKCS#1 PEM, as lettre reads it) and
        <dir>/dns.txt (the TXT record a selector would publish: "v=DKIM1; k=rsa; p=...").

    python3 tests/peers/dkim_check.py verify <message.eml> <dns.txt> [header ...]
        Verifies the message's DKIM-Signature against that record (answering the DNS lookup of
        <selector>._domainkey.<domain> from the file), and checks each named header is among those
        the signature covers (its h= tag). Prints "ok d=<domain> s=<selector> h=<headers>" and exits
        0; prints the reason and exits 1 otherwise.
"""
import base64
import os
import sys

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def keygen(folder):
    os.makedirs(folder, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with open(os.path.join(folder, "private.pem"), "wb") as f:
        f.write(pem)
    with open(os.path.join(folder, "dns.txt"), "w", encoding="ascii") as f:
        f.write("v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode("ascii"))
    return 0


def tags(value):
    out = {}
    for part in value.replace("\r\n", "").replace("\n", "").split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = "".join(v.split())
    return out


def verify(eml, record, wanted):
    with open(eml, "rb") as f:
        message = f.read()
    with open(record, "rb") as f:
        txt = f.read().strip()
    asked = []

    def dnsfunc(name, timeout=5):
        asked.append(name)
        return txt

    d = dkim.DKIM(message)
    if not d.verify(dnsfunc=dnsfunc):
        print(f"signature refused (looked up {asked})")
        return 1
    header = None
    for line_name, line_value in d.headers:
        if line_name.lower() == b"dkim-signature":
            header = line_value.decode("ascii", "replace")
    t = tags(header or "")
    signed = [h.lower() for h in t.get("h", "").split(":")]
    missing = [h for h in wanted if h.lower() not in signed]
    if missing:
        print(f"not covered by the signature: {missing}; h={t.get('h')}")
        return 1
    print(f"ok d={t.get('d')} s={t.get('s')} h={t.get('h')} (looked up {asked})")
    return 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "keygen":
        return keygen(sys.argv[2])
    if len(sys.argv) >= 4 and sys.argv[1] == "verify":
        return verify(sys.argv[2], sys.argv[3], sys.argv[4:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
