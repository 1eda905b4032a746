"""A hostile data folder: every text dimension a report shows carries an XSS / injection payload.

:data:`PAYLOADS` is the corpus: script tags, event-handler attributes, ``javascript:`` URLs, SVG, a closing
``</script>``, Vega expression strings, markdown and HTML injection, a spreadsheet formula, a 2,000-character
string, an RTL override, emoji, a null byte. Each payload carries its own marker (``XSS01`` ...) so a test can
tell where the data put it and whether it is shown as text.

:func:`build` writes a FOCUS 1.2 CSV (team, application, feature, environment, project, a tag key and value, the
charge description) and a LiteLLM spend log (model, key alias, team alias, request tags, experiment, variant),
both in the vendors' own formats, with payloads rotating through every dimension.
"""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from thin_folders import FOCUS_HEADER, LITELLM_HEADER

END = date(2026, 10, 31)
DAYS = 45

#: marker -> payload; the marker is inside the payload, so it is found wherever the payload's text is shown.
PAYLOADS: dict[str, str] = {
    "XSS01": '<script>alert("XSS01")</script>',
    "XSS02": '<img src=x onerror=alert("XSS02")>',
    "XSS03": 'javascript:alert("XSS03")',
    "XSS04": '<svg onload=alert("XSS04")>',
    "XSS05": '</script><script>alert("XSS05")</script>',
    "XSS06": 'datum.x + alert("XSS06")',
    "XSS07": "{{constructor.constructor('alert(\"XSS07\")')()}}",
    "XSS08": "[XSS08](javascript:alert(1))",
    "XSS09": "![XSS09](http://evil.example/x.png)",
    "XSS10": '=HYPERLINK("http://evil.example/","XSS10")',
    "XSS11": "XSS11 " + "A" * 2000,
    "XSS12": "XSS12 invoice\u202egpj.exe",
    "XSS13": "XSS13 \U0001f525\U0001f4b8 \u00fcn\u00efc\u00f8d\u00e9 \u4e2d\u6587 \u05e2\u05d1\u05e8\u05d9\u05ea",
    "XSS14": "XSS14\x00null",
    "XSS15": '<!--XSS15--><a href="javascript:alert(1)">x</a>',
    "XSS16": "\"'><iframe src=javascript:alert(\"XSS16\")>",
    "XSS17": "**XSS17** <b onmouseover=alert(1)>bold</b>",
    "XSS18": "${alert('XSS18')}",
    "XSS19": "<style>body{display:none}</style>XSS19",
    "XSS20": '<base href="http://evil.example/">XSS20',
}
MARKERS = list(PAYLOADS)

#: Dimensions that carry payloads, each from its own first payload on (so experiment, variant and model names start
#: with markup); team takes all twenty in turn.
OFFSETS = {"team": 0, "application": 1, "feature": 3, "environment": 15, "project": 13, "tag": 6, "description": 16,
           "model": 0, "key_alias": 17, "team_alias": 3, "experiment": 0, "variant": 4}  # fmt: skip


def _payload(i: int, dimension: str) -> str:
    """The payload of row ``i`` in ``dimension``."""
    return PAYLOADS[MARKERS[(i + OFFSETS[dimension]) % len(MARKERS)]]


def _focus_rows() -> list[dict[str, str]]:
    rows = []
    for d in range(DAYS):
        day = END - timedelta(days=DAYS - 1 - d)
        start = day.replace(day=1)
        nxt = (start + timedelta(days=32)).replace(day=1)
        for k in range(4):
            i = d * 4 + k
            cost = Decimal("5.00") + Decimal(k) + Decimal(d % 7) / 4
            tags = {"team": _payload(i % 20, "team"), "app": _payload(i % 6, "application"),
                    "feature": _payload(i % 5, "feature"), "env": _payload(i % 3, "environment"),
                    _payload(i % 4, "tag"): _payload(i % 9, "tag")}  # fmt: skip
            rows.append({"BilledCost": str(cost), "BillingAccountId": "123456789012", "BillingCurrency": "USD",
                         "BillingPeriodEnd": f"{nxt}T00:00:00Z", "BillingPeriodStart": f"{start}T00:00:00Z",
                         "ChargeCategory": "Usage", "ChargeDescription": _payload(i % 4, "description"),
                         "ChargePeriodEnd": f"{day + timedelta(days=1)}T00:00:00Z",
                         "ChargePeriodStart": f"{day}T00:00:00Z", "ConsumedQuantity": "1000000",
                         "ConsumedUnit": "Tokens", "EffectiveCost": str(cost), "ListCost": str(cost),
                         "ProviderName": "AWS", "PublisherName": "Anthropic",
                         "ServiceCategory": "AI and Machine Learning",
                         "ServiceName": "Amazon Bedrock", "ServiceSubcategory": "Generative AI",
                         "SkuMeter": "Input Tokens" if k % 2 else "Output Tokens",
                         "SubAccountId": _payload(i % 3, "project"), "Tags": json.dumps(tags),
                         "InvoiceIssuerName": "AWS"})  # fmt: skip
    return rows


def _litellm_rows() -> list[dict[str, object]]:
    rows = []
    for d in range(DAYS):
        day = END - timedelta(days=DAYS - 1 - d)
        for k in range(12):
            i = d * 12 + k
            variant = _payload(k % 3, "variant")
            meta = {"user_api_key_alias": _payload(i % 4, "key_alias"),
                    "user_api_key_team_alias": _payload(i % 5, "team_alias"),
                    "spend_logs_metadata": {"experiment_id": _payload(k % 2, "experiment"), "variant": variant,
                                            "quality_score": 0.6 + 0.1 * (k % 3) + 0.01 * (i % 7)}}  # fmt: skip
            model = "gpt-4o-mini-2024-07-18" if k % 3 else _payload(i % 4, "model")
            rows.append({"request_id": f"r{i}", "call_type": "acompletion", "api_key": f"hk{k % 2}",
                         "spend": f"0.000{36 + 8 * (k % 3) + i % 5}", "total_tokens": 1500,
                         "prompt_tokens": 1200,
                         "completion_tokens": 300 + 40 * (k % 2), "startTime": f"{day}T10:{k:02d}:00Z",
                         "endTime": f"{day}T10:{k:02d}:01Z", "model": model, "model_group": model,
                         "custom_llm_provider": "openai", "user": "u1", "metadata": json.dumps(meta),
                         "request_tags": json.dumps([f"app:{_payload(i % 3, 'application')}",
                                                     f"feature:{_payload(i % 4, 'feature')}"]),
                         "team_id": "t-1", "status": "success"})  # fmt: skip
    return rows


def build(folder: Path) -> Path:
    """Write the hostile folder (FOCUS export and LiteLLM spend log) into ``folder`` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "focus_export.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, FOCUS_HEADER)
        writer.writeheader()
        writer.writerows(_focus_rows())
    with (folder / "spend_logs.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, LITELLM_HEADER)
        writer.writeheader()
        writer.writerows(_litellm_rows())
    return folder
