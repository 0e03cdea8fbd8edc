#!/usr/bin/env python3
"""Loopback S3-compatible object store for Trellis integration tests (moto's server).

Environment:
  S3_BUCKET   a bucket to create before announcing (default trellis-test).

Accepts any credentials. Keeps everything in memory.

Prints exactly one line to stdout when ready:  S3_PORT=<port>
Runs until SIGTERM or SIGINT, then exits with status 0.
"""

import os
import signal
import sys
import threading
import urllib.request

from moto.server import ThreadedMotoServer


def main() -> int:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    bucket = os.environ.get("S3_BUCKET", "trellis-test")
    # Creating a bucket needs no signature in moto: a plain PUT.
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{bucket}", method="PUT")
    urllib.request.urlopen(request).read()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"S3_PORT={port}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
