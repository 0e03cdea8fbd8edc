#!/usr/bin/env python3
"""Loopback SMTP sink for Trellis integration tests.

Accepts every message sent to it and stores it in a folder; delivers nothing.

Environment:
  SMTP_PORT    TCP port on 127.0.0.1; 0 (default) picks a free one.
  SMTP_OUTDIR  folder for the received messages (created if missing).

For the n-th message received (n = 1, 2, ...; continuing after the highest
number already in SMTP_OUTDIR) it writes:
  <n>.json  {"mail_from", "rcpt_tos", "mail_options", "rcpt_options",
             "auth_login", "peer", "received_at"}
  <n>.eml   the message bytes exactly as received after DATA (dot-unstuffed,
            CRLF line ends kept)
Each file is written under a temporary name and then renamed, the .json
first: once <n>.eml exists, both files are complete.

AUTH PLAIN/LOGIN is offered over the plain connection and any credentials
are accepted (the login is recorded as auth_login); clients that do not
authenticate are accepted too. No STARTTLS.

Prints exactly one line to stdout when ready:  SMTP_PORT=<port>
Runs until SIGTERM or SIGINT, then exits with status 0.
"""

import asyncio
import json
import logging
import os
import re
import signal
import sys
from datetime import datetime, timezone

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"
NUMBERED = re.compile(r"^(\d+)\.(?:eml|json)$")


def fail(message):
    print(f"smtp sink: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def write_atomically(folder, name, data):
    tmp = os.path.join(folder, f".{name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(folder, name))


class SinkHandler:
    def __init__(self, outdir):
        self.outdir = outdir
        existing = [int(m.group(1)) for m in map(NUMBERED.match, os.listdir(outdir)) if m]
        self.count = max(existing, default=0)

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        n = self.count
        auth_login = None
        if isinstance(session.auth_data, LoginPassword):
            auth_login = session.auth_data.login.decode("utf-8", "replace")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "rcpt_options": list(envelope.rcpt_options),
            "auth_login": auth_login,
            "peer": list(session.peer) if session.peer else None,
            "received_at": datetime.now(timezone.utc).isoformat(),
        }
        write_atomically(
            self.outdir, f"{n}.json", (json.dumps(meta, indent=2) + "\n").encode()
        )
        write_atomically(self.outdir, f"{n}.eml", envelope.original_content)
        print(
            f"smtp sink: stored {n}.eml from {envelope.mail_from} to {envelope.rcpt_tos}",
            file=sys.stderr,
            flush=True,
        )
        return "250 OK stored"


def accept_any_login(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True, auth_data=auth_data)


async def main():
    port_text = os.environ.get("SMTP_PORT", "0")
    try:
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        fail(f"SMTP_PORT must be a port number, got {port_text!r}")
    outdir = os.environ.get("SMTP_OUTDIR")
    if not outdir:
        fail("SMTP_OUTDIR must name a folder")
    os.makedirs(outdir, exist_ok=True)

    loop = asyncio.get_running_loop()
    handler = SinkHandler(outdir)

    def make_protocol():
        return SMTP(
            handler,
            hostname="smtp-sink.test",  # no DNS lookup of the machine's name
            enable_SMTPUTF8=True,
            decode_data=False,
            authenticator=accept_any_login,
            auth_require_tls=False,
            loop=loop,
        )

    server = await loop.create_server(make_protocol, HOST, port)
    bound_port = server.sockets[0].getsockname()[1]

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    print(f"SMTP_PORT={bound_port}", flush=True)
    await stop.wait()

    print("smtp sink: shutting down", file=sys.stderr, flush=True)
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    # aiosmtpd logs through "mail.log"; keep it on stderr and quiet.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    asyncio.run(main())
