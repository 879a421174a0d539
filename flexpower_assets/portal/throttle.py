"""Failed logins: a rate limit with lockout, per client address, in the portal's memory.

``MAX_FAILURES`` failed logins from one address within ``WINDOW_S`` lock that address out of
``POST /login`` for ``LOCKOUT_S`` (HTTP 429 with ``Retry-After``), even with a valid token, so
tokens cannot be guessed or sprayed at speed; a successful login clears the address's count.
A restart forgets the counts (a 256-bit token cannot be guessed anyway; the limit stops noise
and makes attempts visible: every refusal is in the audit log).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW_S = 15 * 60.0
LOCKOUT_S = 15 * 60.0


class LoginThrottle:
    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S, lockout_s: float = LOCKOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window_s, self.lockout_s, self.clock = max_failures, window_s, lockout_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until ``client`` may try again (0: it may now)."""
        with self._lock:
            until = self._locked_until.get(client)
            if until is None:
                return 0
            left = until - self.clock()
            if left <= 0:
                del self._locked_until[client]
                return 0
            return max(1, int(left + 0.999))

    def failed(self, client: str) -> bool:
        """Count a failed login; True when this failure locks the client out."""
        with self._lock:
            now = self.clock()
            failures = self._failures.setdefault(client, deque())
            failures.append(now)
            while failures and failures[0] <= now - self.window_s:
                failures.popleft()
            if len(failures) >= self.max_failures:
                self._locked_until[client] = now + self.lockout_s
                failures.clear()
                return True
            return False

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
