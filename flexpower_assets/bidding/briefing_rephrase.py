"""Optional rewording of a briefing by a language model behind an OpenAI-compatible endpoint.

Off unless a URL is configured (``FLEXPOWER_BRIEFING_LLM_URL``, the full chat-completions URL,
e.g. ``http://127.0.0.1:8080/v1/chat/completions``). The rule text goes out, the model's answer
comes back, and it is accepted only if ``briefing.number_check`` finds every number of it among
the briefing's figures; otherwise (or when the endpoint fails, times out or answers something
unreadable) the rule text is kept and the reason is returned for the log. No Dagster here.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import polars as pl

from flexpower_assets.bidding.briefing import Briefing, number_check

INSTRUCTIONS = (
    "You reword a day-ahead trading briefing for a trader. Keep every number exactly as written "
    "(same digits, same decimals, same thousands separators, same signs); add no number, date or "
    "time of your own. Answer with plain text: one sentence a line, a blank line between sections."
)
RULE_WORDING = "Written by rules from the figures below."
MODEL_WORDING = "Reworded by the configured language model; every number checked against the figures below."


@dataclass(frozen=True)
class Rewording:
    sections: list[tuple[str, list[str]]]
    wording: str
    accepted: bool
    reason: str


def rule_text(briefing: Briefing) -> Rewording:
    return Rewording(briefing.sections, RULE_WORDING, False, "no language model configured")


def reword(briefing: Briefing, figures: pl.DataFrame, url: str, model: str, api_key: str = "",
           timeout_s: float = 20.0, transport: httpx.BaseTransport | None = None) -> Rewording:
    """The model's wording if it passes the number check, else the rule text with the reason."""
    if not url:
        return rule_text(briefing)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {"model": model, "temperature": 0,
            "messages": [{"role": "system", "content": INSTRUCTIONS},
                         {"role": "user", "content": briefing.text()}]}
    try:
        with httpx.Client(timeout=timeout_s, transport=transport) as client:
            response = client.post(url, json=body, headers=headers)
            response.raise_for_status()
            text = response.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        return Rewording(briefing.sections, RULE_WORDING, False,
                         f"language model not used: {type(error).__name__}: {error}")
    if not isinstance(text, str) or not text.strip():
        return Rewording(briefing.sections, RULE_WORDING, False, "language model not used: empty answer")
    check = number_check(text, figures, briefing.client_id, briefing.delivery_day)
    if not check.passed:
        return Rewording(briefing.sections, RULE_WORDING, False, f"language model wording rejected: {check.reason()}")
    sections = [("Briefing", [line.strip() for line in text.splitlines() if line.strip()])]
    return Rewording(sections, MODEL_WORDING, True, f"language model wording accepted ({check.numbers} numbers checked)")
