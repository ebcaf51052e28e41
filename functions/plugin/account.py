"""Family `account`: identity.plugin.AccountCollector.

init answers locally (the options form); sync goes to the collect function
as `account.sync.v1` and answers every account at once (identity waits up to
3600 s for it, spec cloudforet/identity.md section 2).

A function reply may not carry credentials (`shared/events.py` refuses
them), so with `include_secret` the function names each account's
`secret_schema_id` and this endpoint, which holds the request, adds the
request's own `secret_data` to those accounts.
"""

from __future__ import annotations

from google.protobuf import json_format
from spaceone.api.identity.plugin import account_collector_pb2, account_collector_pb2_grpc

from functions.plugin.calls import Functions
from functions.plugin.structs import to_dict, to_struct
from shared import accounts, events, options


def to_account_info(item: dict, secret_data) -> account_collector_pb2.AccountInfo:
    """`secret_data` (a Struct) goes only to accounts the function gave a secret schema."""
    info = json_format.ParseDict(item, account_collector_pb2.AccountInfo(),
                                 ignore_unknown_fields=True)
    if info.secret_schema_id:
        info.secret_data.CopyFrom(secret_data)
    return info


class AccountCollector(account_collector_pb2_grpc.AccountCollectorServicer):
    def __init__(self, functions: Functions) -> None:
        self.functions = functions

    def init(self, request, context):
        opts = to_dict(request.options)
        if opts:
            options.check(accounts.OPTIONS_SCHEMA, opts, "options")
        return account_collector_pb2.PluginInfo(metadata=to_struct(accounts.metadata()))

    def sync(self, request, context):
        opts = to_dict(request.options)
        options.check(accounts.OPTIONS_SCHEMA, opts, "options")
        reply = self.functions.call("collect", events.ACCOUNT_SYNC, {
            "options": opts, "secret_data": to_dict(request.secret_data)}) or {}
        return account_collector_pb2.AccountsInfo(
            results=[to_account_info(item, request.secret_data)
                     for item in reply.get("results") or []])


def register(server, functions: Functions) -> list[str]:
    account_collector_pb2_grpc.add_AccountCollectorServicer_to_server(
        AccountCollector(functions), server)
    return [account_collector_pb2.DESCRIPTOR.services_by_name["AccountCollector"].full_name]
