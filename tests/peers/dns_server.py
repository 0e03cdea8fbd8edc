"""A DNS server on loopback for the tests (dnslib from PyPI), answering TXT queries from a JSON
file that the test rewrites as it goes: {"name.": ["value", ...]}. Unknown names get NXDOMAIN.
Prints DNS_PORT=<port> once it listens (DNS_PORT=0 picks a free port)."""

import json
import os
import socket
import sys
import time

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class FileResolver(BaseResolver):
    def __init__(self, path):
        self.path = path

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower()
        try:
            with open(self.path, encoding="utf-8") as f:
                records = json.load(f)
        except (OSError, ValueError):
            records = {}
        values = records.get(name)
        if values is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for v in values:
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(v), ttl=0))
        return reply


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    path = os.environ["DNS_RECORDS"]
    port = int(os.environ.get("DNS_PORT", "0")) or free_port()
    # Quiet: the test stops reading stdout once the port is printed.
    quiet = DNSLogger(logf=lambda _line: None)
    server = DNSServer(FileResolver(path), port=port, address="127.0.0.1", logger=quiet)
    server.start_thread()
    print(f"DNS_PORT={port}", flush=True)
    try:
        while server.isAlive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
