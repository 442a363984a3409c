"""Free loopback TCP ports for a check's servers, picked all at once so that they differ.

Usage: ``python -m checks.free_ports COUNT`` prints COUNT port numbers on one line. The ports are
free when printed; nothing holds them afterwards.
"""

import argparse
import socket
from collections.abc import Sequence


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that 127.0.0.1 could bind just now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m checks.free_ports",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("count", type=int, help="how many ports")
    args = parser.parse_args(argv)
    print(*free_ports(args.count))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
