"""Pushed alerts: recognising and parsing what Prism (or an operator's Playbook) POSTs.

`payloads.parse(body) -> list[Alert]` is the one entry; the CloudForet event
shapes are `shared/mapping/alerts.py`, the HTTP edge `functions/alert_ingest`.
"""
