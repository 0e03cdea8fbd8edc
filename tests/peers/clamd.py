#!/usr/bin/env python3
"""ClamAV's daemon (Debian's clamav-daemon) for Trellis integration tests, on a loopback port.

The configuration is the project's own, deploy/clamav/clamd.conf (its size limits and
AlertExceedsMax), with the address, the signature folder and the log moved to a temporary
folder. These machines cannot reach ClamAV's signature servers, so the signature database is
written here: one signature, for the EICAR anti-virus test file (EICAR's standard test string,
kept below as hex so this file itself is not "infected"), matched anywhere in a file or inside
an archive.

Prints exactly one line to stdout when clamd answers PING:  CLAMD_PORT=<port>
The process that was started becomes clamd itself (so stopping it stops clamd); a helper removes
the temporary folder once clamd has gone.
"""

import os
import pathlib
import shutil
import socket
import sys
import tempfile
import time

# "X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*", as hex.
EICAR_HEX = (
    "58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354"
    "414e444152442d414e544956495255532d544553542d46494c452124482b482a"
)
OVERRIDDEN = ("TCPSocket", "TCPAddr", "LocalSocket", "DatabaseDirectory", "LogFile", "Foreground", "PidFile")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"zPING\0")
            return s.recv(16).startswith(b"PONG")
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def main() -> int:
    clamd = shutil.which("clamd") or "/usr/sbin/clamd"
    if not os.path.exists(clamd):
        print("clamd is not installed (scripts/install-test-deps.sh installs clamav-daemon)", file=sys.stderr)
        return 1
    root = pathlib.Path(__file__).resolve().parents[2]
    work = pathlib.Path(tempfile.mkdtemp(prefix="trellis-clamd-"))
    (work / "db").mkdir()
    (work / "db" / "trellis-test.ndb").write_text(f"Trellis.Test.EICAR:0:*:{EICAR_HEX}\n")
    port = free_port()
    kept = [
        line
        for line in (root / "deploy" / "clamav" / "clamd.conf").read_text().splitlines()
        if line.split(" ", 1)[0] not in OVERRIDDEN
    ]
    kept += [
        "Foreground yes",
        f"TCPSocket {port}",
        "TCPAddr 127.0.0.1",
        f"DatabaseDirectory {work / 'db'}",
        f"LogFile {work / 'clamd.log'}",
    ]
    (work / "clamd.conf").write_text("\n".join(kept) + "\n")
    clamd_pid = os.getpid()
    if os.fork() == 0:
        # The helper: announce once clamd answers, then tidy up after it.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not answers(port):
            time.sleep(0.02)
        if answers(port):
            print(f"CLAMD_PORT={port}", flush=True)
        else:
            log = work / "clamd.log"
            print(log.read_text() if log.exists() else "clamd did not start", file=sys.stderr)
        os.close(1)
        while alive(clamd_pid):
            time.sleep(0.5)
        shutil.rmtree(work, ignore_errors=True)
        os._exit(0)
    sys.stdout.flush()
    # clamd writes nothing to stdout (its log is the file above), so the helper's line is the one.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.execv(clamd, [clamd, "-c", str(work / "clamd.conf")])
    return 1


if __name__ == "__main__":
    sys.exit(main())
