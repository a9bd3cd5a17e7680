"""Webhook notices: a JSON POST, retried with exponential backoff on failures worth retrying."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from vantage import __version__
from vantage.errors import NotificationError

log = logging.getLogger(__name__)

#: Answers that may go away by themselves; other 4xx answers will not, so they are not retried.
RETRY_STATUSES = frozenset({408, 425, 429})
#: The longest wait between two tries.
MAX_BACKOFF_S = 60.0


@dataclass(frozen=True)
class WebhookPolicy:
    """How one webhook is called: timeout per POST, tries, and the first wait between them."""

    timeout_s: float = 10.0
    attempts: int = 4
    backoff_s: float = 1.0

    def wait_s(self, attempt: int) -> float:
        """The wait after failed try ``attempt`` (1-based): doubling, at most a minute."""
        return float(min(self.backoff_s * 2.0 ** (attempt - 1), MAX_BACKOFF_S))

    @property
    def longest_s(self) -> float:
        """How long every try and every wait between them can take together."""
        waits = sum(self.wait_s(attempt) for attempt in range(1, self.attempts))
        return max(1, self.attempts) * self.timeout_s + waits


def post_webhook(
    url: str,
    payload: dict[str, Any],
    policy: WebhookPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST ``payload`` as JSON to ``url`` until it answers 2xx; returns the tries it took.

    Connection errors, timeouts, 5xx and 408/425/429 are retried after ``backoff_s``,
    doubling each time (at most a minute); other answers fail at once.

    Raises:
        NotificationError: the last try failed, or the answer is not worth retrying.
    """
    headers = {"User-Agent": f"vantage/{__version__}"}
    last, attempts = "", max(1, policy.attempts)
    with httpx.Client(timeout=policy.timeout_s, headers=headers) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = client.post(url, json=payload)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return attempt
                last = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in RETRY_STATUSES:
                    break
            if attempt < attempts:
                wait = policy.wait_s(attempt)
                log.info("webhook %s try %d failed (%s); again in %.1f s", url, attempt, last, wait)
                sleep(wait)
    raise NotificationError(
        f"webhook {url} failed after {attempt} tries: {last}", channel="webhook", url=url
    )
