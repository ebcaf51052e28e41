"""The gRPC endpoint CloudForet calls: protocol translation only.

Struct in, CloudEvent out to a function URL, reply back to protobuf. It never
talks to Prism Central (it does not import `shared.prism`). One process
serves one protocol family (DESIGN fact 1), chosen by NTNX_PLUGIN_FAMILY.
"""
