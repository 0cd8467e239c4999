"""A new user's first session with `apisix-client` (PyPI) against an APISIX Admin API.

    python apisix_client_walkthrough.py --admin http://127.0.0.1:9180 --key KEY --proxy-port 9080 \
        --upstream 127.0.0.1:1980

Creates an upstream, a service (response-rewrite), two routes (key-auth, proxy-rewrite) and a consumer
with key-auth; gets, lists, counts, updates and deletes them; reloads the plugins; and checks through
the proxy port that the gateway applies them. One line per step; exits 1 at the first mismatch.
Everything it creates is named or prefixed `walk-` (and the consumer `walker`).
"""

import logging
import sys

from apisix_client import ApisixClient
from apisix_client.common import ModifyHeaders, Timeout
from apisix_client.consumer.models import Consumer
from apisix_client.converter import converter
from apisix_client.plugin import KeyAuth, KeyAuthSettings, PluginProtocol, ProxyRewrite, ResponseRewrite
from apisix_client.route.models import Route, RouteStatus
from apisix_client.service.models import Service
from apisix_client.upstream.models import Node, Upstream

from walkthrough import arguments, check, echoed, echoed_header, proxy, skip

# apisix-client 1.0.3 writes `plugins` but cannot read them back: get()/get_all() of a resource with
# plugins raises cattrs' StructureHandlerNotFoundError (PluginProtocol), against APISIX too. Read each
# plugin back as its name (dekebabized by the package: "key-auth" -> "key_auth").
converter.register_structure_hook(PluginProtocol, lambda name, _: name)


def ids(responses):
    return {r.value.id for r in responses}


def main():
    args = arguments(__doc__)
    # The package logs the server's answer to a refused write ("Bad request! ...") at INFO; httpx logs each request.
    logging.basicConfig(level=logging.INFO, format="      %(name)s: %(message)s", stream=sys.stdout)
    client = ApisixClient(args.admin + "/", args.key)  # the package appends "apisix/admin" to the URL as given

    names = client.plugin.get_available()
    check({"key-auth", "proxy-rewrite", "response-rewrite"} <= set(names),
          "plugin.get_available() lists key-auth, proxy-rewrite, response-rewrite", names)

    # Upstreams
    counts = {"upstream": client.upstream.count(), "service": client.service.count(),
              "route": client.route.count(), "consumer": client.consumer.count()}
    node = Node(host=args.upstream_host, port=args.upstream_port, weight=1)
    created = client.upstream.create_or_update(Upstream(name="walk-upstream", nodes=[node]), "walk-up")
    check(created == "walk-up", "upstream.create_or_update(id walk-up) creates it", created)
    generated = client.upstream.create_with_id_generation(
        Upstream(name="walk-generated", retries=1, pass_host="node", nodes=[node]))
    check(bool(generated), f"upstream.create_with_id_generation() -> id {generated}")
    got = client.upstream.get("walk-up")
    check(got is not None and got.key == "/apisix/upstreams/walk-up" and got.value.name == "walk-upstream"
          and (got.value.nodes[0].host, got.value.nodes[0].port) == (args.upstream_host, args.upstream_port),
          "upstream.get(walk-up) returns it", got)
    check({"walk-up", generated} <= ids(client.upstream.get_all()), "upstream.get_all() lists both")
    page = client.upstream.get_all((1, 10))
    check(0 < len(page) <= 10 and ids(page) <= ids(client.upstream.get_all()), "upstream.get_all(page 1, size 10)",
          page)
    check(client.upstream.count() == counts["upstream"] + 2, "upstream.count() grew by 2")
    updated = client.upstream.create_or_update(
        Upstream(name="walk-upstream", desc="with timeouts", nodes=[node], timeout=Timeout(3, 3, 3)), "walk-up")
    got = client.upstream.get("walk-up")
    check(updated == "walk-up" and got.value.desc == "with timeouts" and got.value.timeout.connect == 3,
          "upstream.create_or_update(walk-up) again updates it", got)

    # Services: the response-rewrite turns each 200 into a 203 (without `vars` it would rewrite
    # key-auth's 401 too, as APISIX does), so a 203 through a route proves that it runs its service's plugins.
    rewrite = ResponseRewrite(status_code=203, vars=[["status", "==", "200"]])
    created = client.service.create_or_update(
        Service(name="walk-service", upstream_id="walk-up", plugins=[rewrite]), "walk-svc")
    check(created == "walk-svc", "service.create_or_update(id walk-svc) with response-rewrite", created)
    generated_service = client.service.create_with_id_generation(
        Service(name="walk-inline", upstream=Upstream(nodes=[node])))
    check(bool(generated_service), f"service.create_with_id_generation() with an inline upstream -> id {generated_service}")
    got = client.service.get("walk-svc")
    check(got is not None and got.value.upstream_id == "walk-up" and got.value.plugins == ["response_rewrite"],
          "service.get(walk-svc) returns it", got)
    got = client.service.get(generated_service)
    check(got is not None and got.value.upstream.nodes[0].port == args.upstream_port,
          f"service.get({generated_service}) returns its inline upstream", got)
    check({"walk-svc", generated_service} <= ids(client.service.get_all()), "service.get_all() lists both")
    check(client.service.count() == counts["service"] + 2, "service.count() grew by 2")

    # Routes
    route = Route(name="walk-route", uri="/walk", service_id="walk-svc", labels={"by": "apisix-client"},
                  plugins=[KeyAuthSettings(),
                           ProxyRewrite(uri="/walked", headers=ModifyHeaders(add={"X-Walk": "apisix-client"}))])
    created = client.route.create_or_update(route, "walk-route")
    check(created == "walk-route", "route.create_or_update(id walk-route) with key-auth and proxy-rewrite", created)
    direct = client.route.create_with_id_generation(Route(uri="/walk-direct", methods=["GET"], upstream_id="walk-up"))
    check(bool(direct), f"route.create_with_id_generation(/walk-direct) -> id {direct}")
    got = client.route.get("walk-route")
    check(got is not None and got.value.service_id == "walk-svc" and got.value.status == RouteStatus.ENABLED
          and sorted(got.value.plugins) == ["key_auth", "proxy_rewrite"] and got.value.labels == {"by": "apisix-client"},
          "route.get(walk-route) returns it", got)
    check({"walk-route", direct} <= ids(client.route.get_all()), "route.get_all() lists both")
    check(client.route.count() == counts["route"] + 2, "route.count() grew by 2")

    # Consumers: the package PUTs to /consumers with the username in the body.
    check(client.consumer.create_or_update(Consumer(username="walker", desc="walkthrough",
                                                    plugins=[KeyAuth(key="walk-key")])),
          "consumer.create_or_update(walker) with key-auth")
    got = client.consumer.get("walker")
    check(got is not None and got.key == "/apisix/consumers/walker" and got.value.username == "walker"
          and got.value.plugins == ["key_auth"], "consumer.get(walker) returns it", got)
    check("walker" in {r.value.username for r in client.consumer.get_all()}, "consumer.get_all() lists walker")
    check(client.consumer.count() == counts["consumer"] + 1, "consumer.count() grew by 1")

    # Through the proxy port
    status, _, body = proxy(args, "/walk", status=401)
    check(status == 401, "GET /walk without a key: 401 (key-auth)", body)
    status, _, body = proxy(args, "/walk", headers={"apikey": "walk-key"}, status=203)
    check(status == 203, "GET /walk with walker's key: 203 (the service's response-rewrite)", body)
    request = echoed(body)
    if request is not None:
        check(request["target"] == "/walked" and echoed_header(request, "X-Walk") == "apisix-client",
              "the upstream got /walked with X-Walk: apisix-client (proxy-rewrite)", body)
    status, _, body = proxy(args, "/walk-direct")
    check(status == 200, "GET /walk-direct: 200", body)

    route.status = RouteStatus.DISABLED
    check(client.route.create_or_update(route, "walk-route") == "walk-route", "route.create_or_update(walk-route, disabled)")
    check(client.route.get("walk-route").value.status == RouteStatus.DISABLED, "route.get(walk-route) shows status 0")
    status, _, body = proxy(args, "/walk", headers={"apikey": "walk-key"}, status=404)
    check(status == 404, "GET /walk once disabled: 404", body)

    check(client.plugin.reload(), 'plugin.reload() answers "done"')

    # Absent resources
    check(client.route.get("walk-missing") is None, "route.get(missing) is None")
    check(client.route.delete("walk-missing") is False, "route.delete(missing) is False")
    check(client.consumer.delete("walk-nobody") == 0, "consumer.delete(missing) is 0")

    # Deleting, routes first (an upstream or service still in use cannot be deleted)
    check(client.route.delete("walk-route") is True and client.route.delete(direct) is True, "route.delete() both")
    check(client.service.delete("walk-svc") is True and client.service.delete(generated_service) is True,
          "service.delete() both")
    check(client.upstream.delete("walk-up") == 1 and client.upstream.delete(generated) == 1, "upstream.delete() both")
    check(client.consumer.delete("walker") == 1, "consumer.delete(walker)")
    after = {"upstream": client.upstream.count(), "service": client.service.count(),
             "route": client.route.count(), "consumer": client.consumer.count()}
    check(after == counts, "every count is back to where it started", f"{after} != {counts}")
    status, _, body = proxy(args, "/walk-direct", status=404)
    check(status == 404, "GET /walk-direct once deleted: 404", body)

    skip("credentials, global rules, SSLs, secrets: apisix-client 1.0.3 has clients whose methods all raise NotImplementedError")
    skip("consumer groups, plugin configs, plugin metadata, stream routes, protos: apisix-client 1.0.3 has no client for them")
    skip("PATCH: apisix-client 1.0.3 only creates (POST or PUT), gets, lists, counts and deletes")
    print("apisix-client walkthrough: all steps passed", flush=True)


if __name__ == "__main__":
    main()
