"""A new user's first session with `mcp-apisix` (PyPI) against an APISIX Admin API.

    python mcp_apisix_walkthrough.py --admin http://127.0.0.1:9180 --key KEY --proxy-port 9080 \
        --upstream 127.0.0.1:1980

Starts the `mcp-apisix` server the way an MCP host does (its console script over stdio, with
APISIX_READ_ONLY=false so that its write tools exist), accepts each confirmation it asks for, and
calls its tools: server info, plugins and schemas, validation, upstream, service and route create /
get / list / update, route toggling, consumer, global rule and plugin config reads. mcp-apisix
cannot write consumers, credentials, consumer groups, global rules or plugin configs, nor delete
anything: those are written and removed with plain Admin API requests (lines marked `admin`).
Checks through the proxy port that the gateway applies it all. One line per step; exits 1 at the
first mismatch. Everything it creates is named or prefixed `mcp`.
"""

import json
import os
import sys

import anyio
import mcp_types as types
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from walkthrough import arguments, check, echoed, echoed_header, fail, http, proxy, skip

args = arguments(__doc__)


def admin(method, path, body=None):
    """A plain Admin API request (what mcp-apisix has no tool for); FAIL unless it answers 200 or 201."""
    status, _, text = http(method, f"{args.admin}/apisix/admin{path}", body, {"X-API-KEY": args.key})
    check(status in (200, 201), f"admin {method} {path}: {status}", text)


async def confirm(context, params):
    """The host's confirmation dialog: every write tool asks first (an MCP elicitation); accept it."""
    print(f"      confirm: {params.message}", flush=True)
    return types.ElicitResult(action="accept", content={"confirm": True})


async def call(client, tool, **params):
    """The tool's answer, parsed from its JSON text; FAIL on the error text mcp-apisix answers instead."""
    result = await client.call_tool(tool, params)
    text = result.content[0].text if result.content else ""
    try:
        return json.loads(text)
    except ValueError:
        fail(f"{tool}({json.dumps(params, ensure_ascii=False)})", text)


def listed(answer):
    """The ids in a list tool's answer, from each item's key (mcp-apisix projects the values)."""
    return {item["key"].rsplit("/", 1)[-1] for item in answer.get("list", [])}


async def walkthrough(client):
    tools = {tool.name for tool in (await client.list_tools()).tools}
    check(len(tools) == 22 and {"apisix_create_route", "apisix_update_service", "apisix_toggle_route"} <= tools,
          f"the server offers 22 tools, write tools included ({len(tools)})", sorted(tools))

    info = await call(client, "apisix_get_server_info")
    check(info.get("detected") and info.get("response_format") == "v3",
          "apisix_get_server_info: response format v3 detected", info)
    plugins = await call(client, "apisix_list_plugins")
    check({"key-auth", "proxy-rewrite", "response-rewrite", "request-id"} <= set(plugins),
          "apisix_list_plugins lists key-auth, proxy-rewrite, response-rewrite, request-id", plugins)
    schema = await call(client, "apisix_get_plugin_schema", name="proxy-rewrite")
    check(schema.get("type") == "object" and "uri" in schema.get("properties", {}),
          "apisix_get_plugin_schema(proxy-rewrite) has the uri property", schema)
    valid = await call(client, "apisix_validate_resource_config", resource="routes",
                       config={"uri": "/mcp", "upstream": {"nodes": {args.upstream: 1}}})
    check(valid == {"valid": True}, "apisix_validate_resource_config: a good route is valid", valid)
    invalid = await call(client, "apisix_validate_resource_config", resource="routes", config={"uri": 1})
    check(invalid.get("valid") is False and "uri" in invalid.get("error_msg", ""),
          "apisix_validate_resource_config: uri 1 is not", invalid)

    # What mcp-apisix can only read: a consumer group, a consumer with key-auth and a credential,
    # a global rule, a plugin config.
    admin("PUT", "/consumer_groups/mcp-group", {"plugins": {"request-id": {"header_name": "X-Group-Request-Id"}}})
    admin("PUT", "/consumers", {"username": "mcp_user", "group_id": "mcp-group",
                                "plugins": {"key-auth": {"key": "mcp-key"}}})
    admin("PUT", "/consumers/mcp_user/credentials/mcp-cred", {"plugins": {"key-auth": {"key": "mcp-cred-key"}}})
    admin("PUT", "/global_rules/mcp-global", {"plugins": {"request-id": {"header_name": "X-Global-Request-Id"}}})
    admin("PUT", "/plugin_configs/mcp-pc",
          {"plugins": {"response-rewrite": {"headers": {"set": {"X-Plugin-Config": "mcp-pc"}}}}})

    # Upstreams
    created = await call(client, "apisix_create_upstream",
                         config={"name": "mcp-upstream", "type": "roundrobin", "nodes": {args.upstream: 1}})
    upstream = created.get("id")
    check(upstream and created["value"]["nodes"] == {args.upstream: 1}, f"apisix_create_upstream -> id {upstream}",
          created)
    got = await call(client, "apisix_get_upstream", id=upstream)
    check(got.get("key") == f"/apisix/upstreams/{upstream}" and got["value"]["name"] == "mcp-upstream",
          "apisix_get_upstream returns it", got)
    check(upstream in listed(await call(client, "apisix_list_upstreams")), "apisix_list_upstreams lists it")
    patched = await call(client, "apisix_update_upstream", id=upstream, patch={"desc": "patched"})
    check(patched.get("value", {}).get("desc") == "patched" and patched["value"]["nodes"] == {args.upstream: 1},
          "apisix_update_upstream(desc) patches it, nodes kept", patched)

    # Services: the proxy-rewrite sends every request of its routes to /mcp-upstream.
    created = await call(client, "apisix_create_service",
                         config={"name": "mcp-service", "upstream_id": upstream,
                                 "plugins": {"proxy-rewrite": {"uri": "/mcp-upstream"}}})
    service = created.get("id")
    check(service, f"apisix_create_service with proxy-rewrite -> id {service}", created)
    got = await call(client, "apisix_get_service", id=service)
    check(got.get("value", {}).get("upstream_id") == upstream, "apisix_get_service returns it", got)
    check(service in listed(await call(client, "apisix_list_services")), "apisix_list_services lists it")
    patched = await call(client, "apisix_update_service", id=service, patch={"desc": "patched"})
    check(patched.get("value", {}).get("desc") == "patched" and "proxy-rewrite" in patched["value"].get("plugins", {}),
          "apisix_update_service(desc) patches it, plugins kept", patched)

    # Routes
    created = await call(client, "apisix_create_route",
                         config={"name": "mcp-route", "uri": "/mcp", "service_id": service, "plugin_config_id": "mcp-pc",
                                 "labels": {"by": "mcp-apisix"}, "plugins": {"key-auth": {}}})
    route = created.get("id")
    check(route, f"apisix_create_route with key-auth, service and plugin config -> id {route}", created)
    got = await call(client, "apisix_get_route", id=route)
    check(got.get("value", {}).get("service_id") == service and got["value"].get("plugin_config_id") == "mcp-pc",
          "apisix_get_route returns it", got)
    listing = await call(client, "apisix_list_routes")
    item = next((i["value"] for i in listing.get("list", []) if i["value"].get("id") == route), None)
    check(item is not None and item.get("uri") == "/mcp" and "desc" not in item,
          "apisix_list_routes lists it (default projection)", listing)
    # APISIX's filters: name and uri are regular expressions, label is a label's key, the others exact.
    for name, value in {"name": "mcp-route", "uri": "/mcp", "label": "by", "service_id": service,
                        "upstream_id": "no-such-upstream"}.items():
        found = listed(await call(client, "apisix_list_routes", **{name: value}))
        want = set() if name == "upstream_id" else {route}
        check(found == want, f"apisix_list_routes({name}={value}) -> {sorted(found) or 'none'}")
    patched = await call(client, "apisix_update_route", id=route, patch={"desc": "patched"})
    check(patched.get("value", {}).get("desc") == "patched" and patched["value"].get("uri") == "/mcp",
          "apisix_update_route(desc) patches it", patched)

    # Reads of what the plain Admin API requests above wrote
    consumers = await call(client, "apisix_list_consumers")
    check("mcp_user" in listed(consumers), "apisix_list_consumers lists mcp_user", consumers)
    got = await call(client, "apisix_get_consumer", username="mcp_user")
    check(got.get("value", {}).get("group_id") == "mcp-group"
          and got["value"].get("plugins", {}).get("key-auth", {}).get("key") == "<redacted>",
          "apisix_get_consumer(mcp_user): group mcp-group, key redacted by mcp-apisix", got)
    check("mcp-global" in listed(await call(client, "apisix_list_global_rules")), "apisix_list_global_rules lists mcp-global")
    check("mcp-pc" in listed(await call(client, "apisix_list_plugin_configs")), "apisix_list_plugin_configs lists mcp-pc")
    streams = await call(client, "apisix_list_stream_routes")
    check(streams.get("list") == [] and "notice" in streams,
          "apisix_list_stream_routes: none, with mcp-apisix's stream-mode notice", streams)

    # Through the proxy port
    status, _, body = proxy(args, "/mcp", status=401)
    check(status == 401, "GET /mcp without a key: 401 (key-auth)", body)
    for key in ("mcp-key", "mcp-cred-key"):
        status, headers, body = proxy(args, "/mcp", headers={"apikey": key})
        check(status == 200 and headers.get("X-Plugin-Config") == "mcp-pc",
              f"GET /mcp with key {key}: 200, X-Plugin-Config from the plugin config", f"{status} {dict(headers)} {body}")
        check(headers.get("X-Global-Request-Id") and headers.get("X-Group-Request-Id"),
              "  and the ids of the global rule's and the consumer group's request-id", dict(headers))
        request = echoed(body)
        if request is not None:
            check(request["target"] == "/mcp-upstream" and echoed_header(request, "X-Group-Request-Id"),
                  "  the upstream got /mcp-upstream (the service's proxy-rewrite)", body)

    toggled = await call(client, "apisix_toggle_route", id=route, enabled=False)
    check(toggled.get("value", {}).get("status") == 0, "apisix_toggle_route(enabled=false): status 0", toggled)
    status, _, body = proxy(args, "/mcp", headers={"apikey": "mcp-key"}, status=404)
    check(status == 404, "GET /mcp once disabled: 404", body)
    toggled = await call(client, "apisix_toggle_route", id=route, enabled=True)
    check(toggled.get("value", {}).get("status") == 1, "apisix_toggle_route(enabled=true): status 1", toggled)
    status, _, body = proxy(args, "/mcp", headers={"apikey": "mcp-key"})
    check(status == 200, "GET /mcp enabled again: 200", body)

    missing = await client.call_tool("apisix_get_route", {"id": "mcp-missing"})
    check(missing.content[0].text == "错误：资源不存在",
          "apisix_get_route(missing): mcp-apisix's not-found text (the server logs the 404 with a traceback)",
          missing.content[0].text)

    # mcp-apisix deletes nothing: clean up with the Admin API, references first.
    for path in (f"/routes/{route}", f"/services/{service}", f"/upstreams/{upstream}", "/global_rules/mcp-global",
                 "/plugin_configs/mcp-pc", "/consumers/mcp_user/credentials/mcp-cred", "/consumers/mcp_user",
                 "/consumer_groups/mcp-group"):
        admin("DELETE", path)
    check(route not in listed(await call(client, "apisix_list_routes")), "apisix_list_routes no longer lists it")

    skip("deleting anything; writing consumers, credentials, consumer groups, global rules, plugin configs, "
         "plugin metadata: mcp-apisix 0.4.0 has no tool for it")
    skip("SSLs, secrets, protos, credentials, consumer groups, plugin metadata: mcp-apisix 0.4.0 cannot even read them")


async def main():
    # The console script an MCP host's configuration names; the Admin API settings go in its environment.
    server = StdioServerParameters(
        command=os.path.join(os.path.dirname(sys.executable), "mcp-apisix"),
        env={"APISIX_BASE_URL": args.admin, "APISIX_ADMIN_KEY": args.key, "APISIX_READ_ONLY": "false",
             "APISIX_TIMEOUT": "10", "MCP_LOG_LEVEL": "info"})
    with anyio.fail_after(120):
        async with Client(server, elicitation_callback=confirm, read_timeout_seconds=30, cache=None) as client:
            await walkthrough(client)
    print("mcp-apisix walkthrough: all steps passed", flush=True)


if __name__ == "__main__":
    failed = False
    try:
        anyio.run(main)
    except* SystemExit:  # a FAIL inside the client's task groups: its line is printed already
        failed = True
    sys.exit(1 if failed else 0)
