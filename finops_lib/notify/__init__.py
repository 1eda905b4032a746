"""Where an alert goes: Slack, Microsoft Teams, a generic JSON webhook, e-mail over SMTP, a JSON-lines file.

``send(channel_config, message)`` renders one :class:`Message` for the channel and delivers it; secrets come from
the environment variables the config names (:func:`~finops_lib.notify.channels.secret_from_env`).
"""

from finops_lib.notify import mail
from finops_lib.notify.channels import CHANNELS, Channel, Delivery, as_json, register_channel, send
from finops_lib.notify.message import Message, NotifyError, render_text

__all__ = ["CHANNELS", "Channel", "Delivery", "Message", "NotifyError", "as_json", "mail", "register_channel",
           "render_text", "send"]
