"""The MCP face: Sanad's tools and documents for assistants and agents (``sanad mcp``, ``/mcp``).

Built on the official MCP Python SDK (``mcp``). :mod:`api.mcp.tools` does the work on the
service (the same ask flow as ``/v1/ask``), :mod:`api.mcp.server` declares the tools and the
document resources, :mod:`api.mcp.http` mounts streamable HTTP in ``sanad serve`` behind the
API keys, and :mod:`api.mcp.stdio` runs ``sanad mcp`` over stdin/stdout.
"""
