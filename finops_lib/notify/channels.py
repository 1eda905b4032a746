"""Where a message goes: Slack, Microsoft Teams, a generic JSON webhook, a JSON-lines file (and e-mail, ``mail``).

A channel is a mapping from the watch's config (``{"type": "slack", "url_env": "SLACK_WEBHOOK_URL"}``). Every
secret (a webhook URL embeds one) is read from the environment variable the config names: a literal ``url`` is
refused. Webhook posts are retried on 429 (honouring ``retry-after``, capped) and 5xx with capped exponential
back-off and jitter; an error names the channel type and the HTTP status, never the URL.

Data text is escaped for each channel's markup: Slack mrkdwn ``&``, ``<``, ``>`` (so a team named ``<!channel>``
cannot ping anyone, nor a key name become a link); Teams Adaptive Cards render markdown, so ``[``, ``]``, ``(``,
``)``, ``*``, ``_``, `````, ``<`` and ``>`` are escaped with a backslash.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from finops_lib.notify.message import Message, NotifyError, money_lines, render_text
from finops_lib.registry import Registry

__all__ = ["CHANNELS", "Channel", "Delivery", "register_channel", "secret_from_env", "send", "slack_escape",
           "teams_escape"]  # fmt: skip

# httpx logs every request's URL at INFO, and a Slack or Teams webhook URL is a secret: its records stop at WARNING.
logging.getLogger("httpx").setLevel(logging.WARNING)

SendFunc = Callable[[Mapping[str, Any], Message, Mapping[str, str]], "Delivery"]


@dataclass(frozen=True)
class Delivery:
    """What a channel did with a message."""

    channel: str
    ok: bool
    detail: str = ""
    attempts: int = 1


@dataclass(frozen=True)
class Channel:
    """A registered channel type."""

    name: str
    func: SendFunc
    description: str


CHANNELS: Registry[Channel] = Registry("notification channel")


def register_channel(name: str, *, description: str) -> Callable[[SendFunc], SendFunc]:
    """Register a channel type: ``func(config, message, env) -> Delivery``."""

    def wrap(func: SendFunc) -> SendFunc:
        CHANNELS[name] = Channel(name, func, description)
        return func

    return wrap


def send(config: Mapping[str, Any], message: Message, *, env: Mapping[str, str] | None = None) -> Delivery:
    """Send ``message`` through the channel ``config`` describes.

    Raises
    ------
    NotifyError
        When the channel is unknown, its secret is missing, or it refused the message after its retries.
    """
    kind = str(config.get("type", ""))
    if kind not in CHANNELS:
        raise NotifyError(f"unknown channel type {kind!r}; choose one of {', '.join(CHANNELS)}")
    return CHANNELS[kind].func(config, message, os.environ if env is None else env)


def secret_from_env(config: Mapping[str, Any], key: str, env: Mapping[str, str], *, required: bool = True) -> str:
    """Return the secret the config names by environment variable (``<key>_env``); never a literal.

    Surrounding whitespace is dropped: no URL, token or password begins or ends with a space or a line break.
    """
    kind = config.get("type", "?")
    if key in config:
        raise NotifyError(f"{kind} channel: '{key}' must not be written in the config; name an environment "
                          f"variable with '{key}_env'")  # fmt: skip
    name = config.get(f"{key}_env")
    if not name:
        if required:
            raise NotifyError(f"{kind} channel: '{key}_env' is required (the environment variable holding its {key})")
        return ""
    value = env.get(str(name), "").strip()  # a secret pasted with its line break (``echo $URL > file``) still works
    if not value and required:
        raise NotifyError(f"{kind} channel: the environment variable {name} is not set")
    return value


def post_json(kind: str, url: str, payload: dict[str, Any], *, headers: Mapping[str, str] | None = None,
              attempts: int = 4, base_s: float = 0.5, cap_s: float = 20.0, timeout_s: float = 10.0,
              sleep: Callable[[float], None] = time.sleep) -> Delivery:  # fmt: skip
    """POST JSON with retries (429 with ``retry-after``, 5xx, network); errors never show the URL."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    last = ""
    for attempt in range(attempts):
        wait = random.uniform(0, min(cap_s, base_s * 2**attempt))
        try:
            reply = httpx.post(url, content=body, timeout=timeout_s,
                               headers={"Content-Type": "application/json", **(headers or {})})  # fmt: skip
        except httpx.HTTPError as exc:
            last = f"no answer ({type(exc).__name__})"
        else:
            if reply.status_code < 300:
                return Delivery(kind, True, f"HTTP {reply.status_code}", attempt + 1)
            last = f"HTTP {reply.status_code}"
            if reply.status_code != 429 and reply.status_code < 500:
                raise NotifyError(f"{kind} channel refused the message ({last})")
            if reply.status_code == 429:
                wait = _retry_after(reply.headers.get("retry-after"), wait, cap_s)
        if attempt + 1 < attempts:
            sleep(wait)
    raise NotifyError(f"{kind} channel did not take the message after {attempts} tries ({last})")


def _retry_after(value: str | None, default: float, cap: float) -> float:
    try:
        return min(max(float(value or ""), 0.0), cap)
    except ValueError:
        return default


def _retry_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Retry settings a channel's config may carry (tests make the back-off tiny)."""
    out: dict[str, Any] = {k: float(config[k]) for k in ("base_s", "cap_s", "timeout_s") if k in config}
    if "attempts" in config:
        out["attempts"] = int(config["attempts"])
    return out


def slack_escape(text: str) -> str:
    """Escape data text for Slack mrkdwn.

    Examples
    --------
    >>> slack_escape("<!channel> & <http://x|y>")
    '&lt;!channel&gt; &amp; &lt;http://x|y&gt;'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_TEAMS_SPECIAL = re.compile(r"([\\`*_\[\]()<>#!|~])")


def teams_escape(text: str) -> str:
    r"""Escape data text for a Teams Adaptive Card TextBlock (markdown): links, images and emphasis stay text.

    Examples
    --------
    >>> print(teams_escape("[click](http://x) *bold*"))
    \[click\]\(http://x\) \*bold\*
    """
    return _TEAMS_SPECIAL.sub(r"\\\1", text)


@register_channel("slack", description="Slack incoming webhook (Block Kit); url_env names the webhook URL")
def _slack(config: Mapping[str, Any], message: Message, env: Mapping[str, str]) -> Delivery:
    url = secret_from_env(config, "url", env)
    text = render_text(message)
    fields = [f"*{slack_escape(label)}*\n{slack_escape(value)}" for label, value in _facts(message)]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _short(message.headline, 150), "emoji": False}},
        {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape("\n".join(money_lines(message)) or
                                                                            message.headline)}},
    ]  # fmt: skip
    if fields:
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields[:10]]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "Look further: "
                                                    + slack_escape(message.look_further)}]})  # fmt: skip
    return post_json("slack", url, {"text": slack_escape(text), "blocks": blocks}, **_retry_options(config))


@register_channel("teams", description="Microsoft Teams workflow webhook (Adaptive Card); url_env names the URL")
def _teams(config: Mapping[str, Any], message: Message, env: Mapping[str, str]) -> Delivery:
    url = secret_from_env(config, "url", env)
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": teams_escape(message.headline), "weight": "Bolder", "size": "Medium",
         "wrap": True},
        *({"type": "TextBlock", "text": teams_escape(line), "wrap": True} for line in money_lines(message)),
        {"type": "FactSet", "facts": [{"title": teams_escape(k), "value": teams_escape(v)} for k, v in
                                      _facts(message)]},
        {"type": "TextBlock", "text": "Look further: " + teams_escape(message.look_further), "wrap": True,
         "isSubtle": True},
    ]  # fmt: skip
    card = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4", "body": body}  # fmt: skip
    payload = {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                    "contentUrl": None, "content": card}]}  # fmt: skip
    return post_json("teams", url, payload, **_retry_options(config))


def as_json(message: Message) -> dict[str, Any]:
    """Return the message as JSON values (money as decimal strings, times ISO)."""
    return {"event": message.event, "incident_id": message.incident_id, "headline": message.headline,
            "severity": message.severity, "currency": message.currency,
            "per_hour": None if message.per_hour is None else str(message.per_hour),
            "per_day": None if message.per_day is None else str(message.per_day),
            "scope": dict(message.scope), "driver": message.driver, "since": message.since.isoformat(),
            "until": message.until.isoformat() if message.until else None, "look_further": message.look_further,
            "details": dict(message.details), "text": render_text(message)}  # fmt: skip


@register_channel("webhook", description="generic JSON webhook; url_env names the URL, headers_env maps header "
                  "names to environment variables (an Authorization token)")  # fmt: skip
def _webhook(config: Mapping[str, Any], message: Message, env: Mapping[str, str]) -> Delivery:
    url = secret_from_env(config, "url", env)
    headers = {}
    for header, name in dict(config.get("headers_env") or {}).items():
        value = env.get(str(name), "").strip()  # as secret_from_env: a pasted line break is no part of a token
        if not value:
            raise NotifyError(f"webhook channel: the environment variable {name} (header {header}) is not set")
        headers[str(header)] = value
    return post_json("webhook", url, as_json(message), headers=headers, **_retry_options(config))


@register_channel("file", description="append each message as one JSON line to a file (path): for demos, "
                  "audits and scripts that read alerts")  # fmt: skip
def _file(config: Mapping[str, Any], message: Message, env: Mapping[str, str]) -> Delivery:
    if not config.get("path"):
        raise NotifyError("file channel: 'path' is required")
    path = Path(str(config["path"])).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(as_json(message), ensure_ascii=False, sort_keys=True) + "\n")
    return Delivery("file", True, str(path))


def _facts(message: Message) -> list[tuple[str, str]]:
    out = []
    if message.driver:
        out.append(("Driver", message.driver))
    since = message.since.strftime("%Y-%m-%d %H:%M UTC")
    out.append(("Since", since if message.until is None else f"{since} to {message.until:%Y-%m-%d %H:%M UTC}"))
    out += [(dim.replace("_", " ").capitalize(), value) for dim, value in message.scope]
    return out + list(message.details)


def _short(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
