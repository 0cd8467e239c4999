import Testing
@testable import Shared

private let openfunctionSchema = Schema(type: .object, properties: ["function_uri": Schema(type: .string)],
                                        required: ["function_uri"])
private func lookup(_ name: String) -> PluginSpec? {
    name == "openfunction" ? PluginSpec(schema: openfunctionSchema) : nil
}

private func routeMessage(_ json: String, upstreams: Set<String> = ["1"]) throws -> String? {
    switch ResourceCheck.route(try JSONValue.parse(json), plugins: lookup, exists: { resource, id in
        switch resource {
        case "upstreams": upstreams.contains(id)
        case "services": id == "s1"
        case "plugin_configs": id == "pc1"
        default: false
        }
    }) {
    case .success: nil
    case .failure(let error): error.message
    }
}

private func upstreamMessage(_ json: String) throws -> String? {
    switch ResourceCheck.upstream(try JSONValue.parse(json)) {
    case .success: nil
    case .failure(let error): error.message
    }
}

private let ups = #""upstream":{"nodes":{"127.0.0.1:1980":1},"type":"roundrobin"}"#

@Suite struct ResourceCheckTests {
    /// apisix-compat.md 3.5: route messages, word for word (as the Admin API's error_msg).
    @Test(arguments: [
        (#"{"uri":"/hello",\#(ups)}"#, nil),
        (#"{"uri":"/hello","plugins":{"openfunction":{"function_uri":"http://127.0.0.1:30584/function-sample"}},"upstream":{"nodes":{},"type":"roundrobin"}}"#, nil),
        (#"{"uri":"/hello","plugins":{"openfunction":{"function_uri":"u"}}}"#, nil),
        (#"{"uris":["/a","/b"],"upstream_id":"1"}"#, nil),
        (#"{"uri":"/h","upstream_id":1}"#, nil),
        (#"{"uri":"/h","host":"a.com","hosts":["b.com"],\#(ups)}"#, "only one of host or hosts is allowed"),
        (#"{"uri":"/h","remote_addr":"1.1.1.1","remote_addrs":["2.2.2.2"],\#(ups)}"#,
         "only one of remote_addr or remote_addrs is allowed"),
        (#"{"uri":"/h","foo":1,\#(ups)}"#, "invalid configuration: additional properties forbidden, found foo"),
        (#"{\#(ups)}"#, "invalid configuration: allOf 1 failed: value should match only one schema, but matches none"),
        (#"{"uri":"/h","uris":["/x"],\#(ups)}"#,
         "invalid configuration: allOf 1 failed: value should match only one schema, but matches both schemas 1 and 2"),
        (#"{"uri":"/h","methods":["GET","FOO"],\#(ups)}"#,
         #"invalid configuration: property "methods" validation failed: failed to validate item 2: matches none of the enum values"#),
        (#"{"uri":"/h","methods":["invalid_method"],\#(ups)}"#,
         #"invalid configuration: property "methods" validation failed: failed to validate item 1: matches none of the enum values"#),
        (#"{"uri":"/h","methods":["GET","GET"],\#(ups)}"#,
         #"invalid configuration: property "methods" validation failed: expected unique items but items 1 and 2 are equal"#),
        (#"{"uri":"/h","host":"a.*.foo.com",\#(ups)}"#,
         #"invalid configuration: property "host" validation failed: failed to match pattern "^\\*$|^\\*?[0-9a-zA-Z-._\\[\\]:]+$" with "a.*.foo.com""#),
        (#"{"uri":"/h","hosts":[],\#(ups)}"#,
         #"invalid configuration: property "hosts" validation failed: expect array to have at least 1 items"#),
        (#"{"uri":"/h","remote_addr":"300.1.1.1",\#(ups)}"#,
         #"invalid configuration: property "remote_addr" validation failed: object matches none of the required"#),
        (#"{"uri":"/h","remote_addrs":["10.0.0.0/8","::1","fe80::/10","1.2.3.4"],\#(ups)}"#, nil),
        (#"{"uri":"/h","priority":1.5,\#(ups)}"#,
         #"invalid configuration: property "priority" validation failed: wrong type: expected integer, got number"#),
        (#"{"uri":"/h","status":2,\#(ups)}"#,
         #"invalid configuration: property "status" validation failed: matches none of the enum values"#),
        (#"{"uri":"/h","timeout":{"connect":0,"send":1,"read":1},\#(ups)}"#,
         #"invalid configuration: property "timeout" validation failed: property "connect" validation failed: expected 0 to be greater than 0"#),
        (#"{"uri":"/h","timeout":{"connect":1,"send":1},\#(ups)}"#,
         #"invalid configuration: property "timeout" validation failed: property "read" is required"#),
        (#"{"uri":"","upstream_id":"1"}"#,
         #"invalid configuration: property "uri" validation failed: string too short, expected at least 1, got 0"#),
        (#"{"uri":"/h","name":"","upstream_id":"1"}"#,
         #"invalid configuration: property "name" validation failed: string too short, expected at least 1, got 0"#),
        (#"{"uri":"/h","labels":{"k":"a b"},"upstream_id":"1"}"#,
         #"invalid configuration: property "labels" validation failed: failed to validate k (matching ".*"): failed to match pattern "^\\S+$" with "a b""#),
        (#"{"uri":"/h"}"#,
         #"invalid configuration: object matches none of the required: ["plugins","uri"] or ["upstream","uri"] or ["upstream_id","uri"] or ["service_id","uri"] or ["plugins","uris"] or ["upstream","uris"] or ["upstream_id","uris"] or ["service_id","uris"] or ["script","uri"] or ["script","uris"]"#),
        (#"{"uri":"/h","script":"local x = 1","plugins":{}}"#, "invalid configuration: value wasn't supposed to match schema"),
        (#"{"id":"*invalid","uri":"/h",\#(ups)}"#,
         #"invalid configuration: property "id" validation failed: object matches none of the required"#),
        (#"{"id":-100,"uri":"/h",\#(ups)}"#,
         #"invalid configuration: property "id" validation failed: object matches none of the required"#),
        (#"{"uri":"/h","upstream_id":"99999999"}"#,
         "failed to fetch upstream info by upstream id [99999999], response code: 404"),
        (#"{"uri":"/h","plugins":{"nope":{}},\#(ups)}"#, "unknown plugin [nope]"),
        (#"{"uri":"/h","plugins":{"openfunction":"x"},\#(ups)}"#, #"invalid plugin conf "x" for plugin [openfunction]"#),
        (#"{"uri":"/h","plugins":{"openfunction":{}}}"#,
         #"failed to check the configuration of plugin openfunction err: property "function_uri" is required"#),
        (#"{"uri":"/h","plugins":{"openfunction":{"function_uri":1,"_meta":{"disable":true}}}}"#, nil),
        (#"{"uri":"/h","upstream":{"nodes":{"127.0.0.1:1980":"x"},"type":"roundrobin"}}"#,
         #"invalid configuration: property "upstream" validation failed: property "nodes" validation failed: object matches none of the required"#),
        (#"{"uri":"/h","upstream":{"nodes":{"127.0.0.1:1980":1},"pass_host":"rewrite"}}"#,
         "`upstream_host` can't be empty when `pass_host` is `rewrite`"),
        (#"{"uri":"/h","service_id":"1"}"#, "failed to fetch service info by service id [1], response code: 404"),
        (#"{"uri":"/h","service_id":"s1"}"#, nil),
        (#"{"uri":"/h","service_id":"s1","upstream_id":"9"}"#, "failed to fetch upstream info by upstream id [9], response code: 404"),
        (#"{"uri":"/h","plugin_config_id":"1",\#(ups)}"#,
         "failed to fetch plugin config info by plugin config id [1], response code: 404"),
        (#"{"uri":"/h","plugin_config_id":"pc1",\#(ups)}"#, nil),
        (#"{"uri":"/h","vars":[["arg_a","==","1"]],\#(ups)}"#, nil),
        (#"{"uri":"/h","vars":["!OR",["http_user_agent","==","ios"],["AND",["host","~~","^a"],["cookie_c","~=",null]]],\#(ups)}"#, nil),
        (#"{"uri":"/h","vars":"x",\#(ups)}"#,
         #"invalid configuration: property "vars" validation failed: wrong type: expected array, got string"#),
        (#"{"uri":"/h","vars":[["remote_addr","=","127.0.0.1"]],\#(ups)}"#,
         "failed to validate the 'vars' expression: invalid operator '='"),
        (#"{"uri":"/h","vars":["http_user_agent","~*","android"],\#(ups)}"#,
         "failed to validate the 'vars' expression: rule should be wrapped inside brackets"),
        (#"{"uri":"/h","vars":["AND",["arg_a","==","1"]],\#(ups)}"#, "failed to validate the 'vars' expression: rule too short"),
        (#"{"uri":"/h","vars":[["arg_a","not","==","1"]],\#(ups)}"#, "failed to validate the 'vars' expression: bad 'not' expression"),
        (#"{"uri":"/h","vars":[["remote_addr","ipmatch","300.1.1.1"]],\#(ups)}"#,
         "failed to validate the 'vars' expression: invalid ip address: 300.1.1.1"),
        (#"{"uri":"/h","vars":[["nginx_only_var","==","1"]],\#(ups)}"#,
         "failed to validate the 'vars' expression: variable 'nginx_only_var' is not supported"),
        (#"{"uri":"/h","vars":["OR",["arg_a","==","1"],["route_id","==","1"]],\#(ups)}"#,
         "failed to validate the 'vars' expression: variable 'route_id' is not supported"),
        (#"{"uri":"/h","filter_func":"function(vars) return true end",\#(ups)}"#, "filter_func is not supported"),
        (#"{"uri":"/h","script":"local x = 1"}"#, "script is not supported"),
        (#"{"uri":"/h","upstream":{"nodes":{"127.0.0.1:1980":1},"type":"chash","key":"remote_addr"}}"#,
         "type chash is not supported"),
    ] as [(String, String?)])
    func routeMessages(json: String, expected: String?) throws {
        #expect(try routeMessage(json) == expected)
    }

    /// apisix-compat.md 3.6: upstream messages, word for word.
    @Test(arguments: [
        (#"{"nodes":{"127.0.0.1:1980":1},"type":"roundrobin"}"#, nil),
        (#"{"nodes":{},"type":"roundrobin"}"#, nil),
        (#"{"nodes":[{"host":"127.0.0.1","port":80,"weight":1}],"type":"unknown"}"#, nil),
        (#"{"nodes":{"127.0.0.1:1980":"x"}}"#,
         #"invalid configuration: property "nodes" validation failed: object matches none of the required"#),
        (#"{"nodes":{"127.0.0.1:70000":1}}"#, "invalid port 70000"),
        (#"{"nodes":[{"host":"::1","port":80,"weight":1}]}"#,
         "invalid configuration: IPv6 address must be enclosed with '[' and ']'"),
        (#"{"type":"roundrobin"}"#, "invalid configuration: value should match only one schema, but matches none"),
        (#"{"nodes":{},"retries":-1}"#, #"invalid configuration: property "retries" validation failed: expected -1 to be at least 0"#),
        (#"{"nodes":{},"retry_timeout":-1}"#,
         #"invalid configuration: property "retry_timeout" validation failed: expected -1 to be at least 0"#),
        (#"{"nodes":{},"timeout":{"connect":0,"send":1,"read":1}}"#,
         #"invalid configuration: property "timeout" validation failed: property "connect" validation failed: expected 0 to be greater than 0"#),
        (#"{"nodes":{},"keepalive_pool":{"size":0}}"#,
         #"invalid configuration: property "keepalive_pool" validation failed: property "size" validation failed: expected 0 to be at least 1"#),
        (#"{"nodes":{},"scheme":"ftp"}"#,
         #"invalid configuration: property "scheme" validation failed: matches none of the enum values"#),
        (#"{"nodes":{},"pass_host":"host"}"#,
         #"invalid configuration: property "pass_host" validation failed: matches none of the enum values"#),
        (#"{"nodes":{},"pass_host":"rewrite"}"#, "`upstream_host` can't be empty when `pass_host` is `rewrite`"),
        (#"{"nodes":{},"pass_host":"rewrite","upstream_host":"example.com"}"#, nil),
        (#"{"nodes":{},"foo":1}"#, "invalid configuration: additional properties forbidden, found foo"),
        (#"{"nodes":{},"type":"chash"}"#, "missing key"),
        (#"{"nodes":{},"type":"chash","key":"bad key"}"#,
         #"invalid configuration: failed to match pattern "^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$" with "bad key""#),
        (#"{"nodes":{},"type":"chash","hash_on":"header","key":"a b"}"#,
         #"invalid configuration: failed to match pattern "^[a-zA-Z0-9-_]+$" with "a b""#),
        (#"{"nodes":{},"type":"chash","hash_on":"consumer"}"#, "type chash is not supported"),
        (#"{"nodes":{},"type":"least_conn"}"#, "type least_conn is not supported"),
        (#"{"nodes":{},"type":"ewma"}"#, "type ewma is not supported"),
        (#"{"nodes":{},"checks":{"active":{}}}"#, "checks is not supported"),
        (#"{"service_name":"a","discovery_type":"dns"}"#, "discovery_type is not supported"),
        (#"{"nodes":{},"scheme":"grpc"}"#, "scheme grpc is not supported"),
        (#"{"nodes":{},"tls":{"verify":true}}"#, "tls is not supported"),
    ] as [(String, String?)])
    func upstreamMessages(json: String, expected: String?) throws {
        #expect(try upstreamMessage(json) == expected)
    }

    /// Schema errors keep the bare text in `detail`; other checks carry their full text.
    @Test func errorKinds() throws {
        let schemaError = try #require(ResourceCheck.upstream(.object(["nodes": .object([:]), "retries": -1])).failure)
        #expect(schemaError.kind == .schema)
        #expect(schemaError.detail == #"property "retries" validation failed: expected -1 to be at least 0"#)
        let other = try #require(ResourceCheck.upstream(.object(["nodes": .object(["a:0": 1])])).failure)
        #expect(other.kind == .check)
        #expect(other.detail == "invalid port 0")
    }

    /// Without an existence callback the upstream_id is not looked up.
    @Test func upstreamIdCheckOptional() throws {
        let json = try JSONValue.parse(#"{"uri":"/h","upstream_id":"9"}"#)
        #expect(ResourceCheck.route(json, plugins: lookup, exists: nil).isSuccess)
    }

    /// A valid route converts to the model with the id given.
    @Test func convertsRoute() throws {
        let json = try JSONValue.parse(#"{"id":5,"uri":"/a/*","methods":["GET"],"host":"Example.COM","priority":3,"status":0,"#
            + #""timeout":{"connect":1,"send":2,"read":3.5},"enable_websocket":true,"#
            + #""plugins":{"openfunction":{"function_uri":"u"}},\#(ups)}"#)
        let route = try ResourceCheck.route(json, plugins: lookup, exists: nil).get()
        #expect(route.id == "5")
        #expect(route.uris == ["/a/*"])
        #expect(route.methods == ["GET"])
        #expect(route.hosts == ["example.com"])
        #expect(route.priority == 3)
        #expect(route.enabled == false)
        #expect(route.timeout == Upstream.Timeout(connect: 1, send: 2, read: 3.5))
        #expect(route.enableWebsocket)
        #expect(route.plugins["openfunction"] == .object(["function_uri": "u"]))
        #expect(route.upstream?.nodes == [Upstream.Node(host: "127.0.0.1", port: 1980, weight: 1)])
        #expect(route.json["id"] == "5")
        let renamed = try ResourceCheck.route(json, id: "url-id", plugins: lookup, exists: nil).get()
        #expect(renamed.id == "url-id")
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { true } else { false } }
    var failure: Failure? { if case .failure(let error) = self { error } else { nil } }
}

/// Route `vars`: a regex that does not compile is refused with PCRE2's reason (Sluice's
/// difference); the expression is kept on the route for the router.
@Suite struct RouteVarsCheckTests {
    @Test func invalidRegexIsRefused() throws {
        let json = try JSONValue.parse(#"{"uri":"/h","vars":[["uri","~~","(abc"]],"upstream_id":"1"}"#)
        let error = try #require(ResourceCheck.route(json, plugins: { _ in nil }, exists: nil).failure)
        #expect(error.message == "failed to validate the 'vars' expression: invalid regex '(abc': missing closing parenthesis in \"(abc\" at \"\"")
    }

    @Test func varsKeptOnTheRoute() throws {
        let json = try JSONValue.parse(#"{"uri":"/h","vars":[["arg_k","==","v"]],"upstream_id":"1"}"#)
        let route = try ResourceCheck.route(json, plugins: { _ in nil }, exists: nil).get()
        #expect(route.vars == .array([.array(["arg_k", "==", "v"])]))
        #expect(try Route(apisix: route.apisixJSON, id: "1").vars == route.vars)
    }
}
