"""Delivering CloudForet notifications: one message model, pure renderers, I/O channels.

    message.py   CloudForet's dispatch request (notification.plugin and
                 alert_manager.plugin shapes) -> one `Message`
    render.py    pure: Message -> webhook JSON, Slack, Teams, e-mail parts, SNS
    schema.py    channel_data / secret_data JSON Schemas (init metadata) and checks
    channels.py  I/O: one delivery attempt per channel (HTTP, SMTP, SNS)
    dispatch.py  `dispatch` and `verify`: check, render, deliver with retries

Channels are named `webhook`, `slack`, `teams`, `email`, `sns`. This package
never imports grpc: the plugin endpoint and the notify function call it.
"""
