"""How many connections the view may hold, so that its clients never starve the controller.

Every connection costs a file descriptor, and the controller needs descriptors of its own
(MediaMTX connections, documents, the state directory, recordings). When the view starts,
the soft open-files limit is raised to the hard one (at most `CEILING`), the descriptors
already open are counted, a reserve is kept free for the controller, and the view's
connections are capped at what is left (and at `Limits.max_connections`). A connection
may hold two descriptors: its socket and a recording being downloaded.
"""

from __future__ import annotations

import logging
import os
import resource
from dataclasses import dataclass

from controller.view.errors import ViewError

log = logging.getLogger("camctl.view")
CEILING = 65536  # the soft limit is raised no further: children inherit it
MIN_CONNECTIONS = 16  # below this the view would be useless: refuse to start
PER_CONNECTION = 2  # descriptors: the socket, and a file it downloads (compat_http)


@dataclass(frozen=True)
class Budget:
    limit: int  # the soft RLIMIT_NOFILE in force
    in_use: int  # descriptors open when the view started
    reserve: int  # kept free for the controller
    connections: int  # the most connections the view holds at once

    def describe(self) -> str:
        return (
            f"at most {self.connections} connections; open files: limit {self.limit}, "
            f"{self.in_use} in use, {self.reserve} kept for the controller"
        )


def raise_open_files(ceiling: int = CEILING) -> int:
    """Raise the soft open-files limit to the hard one (at most `ceiling`); the soft limit.

    Where raising is not allowed (a seccomp filter, as systemd's `~@resources`), the limit
    stays as it is: the service manager's LimitNOFILE then decides."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = ceiling if hard == resource.RLIM_INFINITY else min(hard, ceiling)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (OSError, ValueError) as exc:
            log.debug("open-files limit stays at %d: %s", soft, exc)
            return soft
        return wanted
    return soft


def open_descriptors() -> int:
    """How many descriptors this process has open (0 where the system does not say)."""
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            return max(len(os.listdir(listing)) - 1, 0)  # less the listing's own
        except OSError:
            continue
    return 0


def budget(max_connections: int, reserve: int) -> Budget:
    """The view's connection cap under this process's open-files limit."""
    limit = raise_open_files()
    if limit == resource.RLIM_INFINITY:
        limit = CEILING
    in_use = open_descriptors()
    room = (limit - in_use - reserve) // PER_CONNECTION
    if room < MIN_CONNECTIONS:
        wanted = in_use + reserve + PER_CONNECTION * max_connections
        raise ViewError(
            f"the open-files limit ({limit}, {in_use} in use) leaves no room for the view "
            f"beside the {reserve} descriptors kept for the controller: raise it "
            f"(LimitNOFILE= in the systemd unit, ulimit -n) to at least {wanted}"
        )
    return Budget(limit, in_use, reserve, min(max_connections, room))
