"""Whether the client of the current request has gone, for a view that blocks before it writes.

A stream notices a gone client when a write fails; a JSON request writes only at the end, so its
view asks instead. Under uWSGI the request's socket (to nginx, which closes it when its client
leaves) reads as hung up once the peer has closed: POLLRDHUP, or POLLHUP/POLLERR. Elsewhere
(the Flask test client, werkzeug) nothing tells, and the check answers False.
"""

import select
from collections.abc import Callable

from serving.generation import never_gone

HUNG_UP = select.POLLRDHUP | select.POLLHUP | select.POLLERR


def watcher() -> Callable[[], bool]:
    """A check for the current request's client; call it in the request's thread."""
    try:
        import uwsgi  # exists only inside a uWSGI worker
    except ImportError:
        return never_gone
    fd = uwsgi.connection_fd()
    if fd < 0:
        return never_gone
    poller = select.poll()
    poller.register(fd, HUNG_UP)

    def gone() -> bool:
        return any(events & HUNG_UP for _, events in poller.poll(0))

    return gone
