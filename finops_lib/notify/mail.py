"""E-mail over SMTP: STARTTLS, login from the environment, a plain-text part and an HTML part (escaped).

Config: ``{"type": "email", "host": ..., "port": 587, "starttls": true, "from": ..., "to": [...],
"user_env": "SMTP_USER", "password_env": "SMTP_PASSWORD", "timeout": 10}``; ``ca_file`` trusts a private CA,
``tls_verify: false`` accepts any certificate (a test server). Errors name ``host:port``, never the password.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from finops_lib.notify.channels import Delivery, register_channel, secret_from_env
from finops_lib.notify.message import Message, NotifyError, render_text

__all__ = ["build_email"]


def build_email(message: Message, *, sender: str, to: list[str]) -> EmailMessage:
    """Return the e-mail of a message: subject ``[FinOps] <headline>`` (one line), text and HTML parts."""
    mail = EmailMessage()
    mail["Subject"] = "[FinOps] " + " ".join(message.headline.split())[:180]
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    text = render_text(message)
    mail.set_content(text)
    lines = text.splitlines()
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines[1:])
    mail.add_alternative(f"<html><body><h2>{html.escape(lines[0])}</h2>{body}</body></html>", subtype="html")
    return mail


def _port(value: object) -> int:
    """Return the SMTP port of the config: a whole number from 1 to 65535 (``"587"`` too), else a clear error.

    Examples
    --------
    >>> _port(587), _port(" 2525 ")
    (587, 2525)
    >>> _port("smtp")
    Traceback (most recent call last):
    finops_lib.notify.message.NotifyError: email channel: 'port' must be a whole number from 1 to 65535, got 'smtp'
    """
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise NotifyError(f"email channel: 'port' must be a whole number from 1 to 65535, got {value!r}")
    return int(text)


def _context(config: Mapping[str, Any]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.get("ca_file") or None)
    if config.get("tls_verify") is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@register_channel("email", description="e-mail over SMTP with STARTTLS; user_env and password_env name the login")
def _email(config: Mapping[str, Any], message: Message, env: Mapping[str, str]) -> Delivery:
    host, port = str(config.get("host", "")).strip(), _port(config.get("port", 587))
    to = config.get("to") or []
    to = [to] if isinstance(to, str) else [str(t) for t in to]
    if not host or not to or not config.get("from"):
        raise NotifyError("email channel: 'host', 'from' and 'to' are required")
    user = secret_from_env(config, "user", env, required=False)
    password = secret_from_env(config, "password", env, required=bool(user))
    where = f"{host}:{port}"
    try:
        with smtplib.SMTP(host, port, timeout=float(config.get("timeout", 10))) as smtp:
            if config.get("starttls", True):
                smtp.starttls(context=_context(config))
            if user:
                smtp.login(user, password)
            smtp.send_message(build_email(message, sender=str(config["from"]), to=to))
    except smtplib.SMTPAuthenticationError as exc:
        raise NotifyError(f"email channel: {where} refused the login (SMTP {exc.smtp_code})") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise NotifyError(f"email channel: could not send through {where} ({type(exc).__name__})") from None
    return Delivery("email", True, where)
