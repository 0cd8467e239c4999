package import Shared

/// `key-auth` (apisix/plugins/key-auth.lua; plugins.md sections 2 and 5): priority 2500, rewrite,
/// type auth. The key is the request header `header`, or only when that header is absent the
/// query argument `query` (percent-decoded); it is looked up, as exact bytes, among the
/// consumers' and credentials' `key-auth.key` (`ConsumerIndex`). A match attaches the consumer;
/// otherwise 401 with `WWW-Authenticate: apikey realm="<realm>"`, or with `anonymous_consumer`
/// that consumer is attached instead. `hide_credentials` removes the key from what the upstream
/// gets. Secret references in a consumer's key are refused (plugins.md: may be left out).
package final class KeyAuthPlugin: Plugin {
    package static let name = "key-auth"
    package static let priority = 2500
    package static let phases: PluginPhases = [.rewrite]

    /// `schema_def.get_realm_schema`: printable ASCII without `"` and `\`.
    static func realmSchema(default value: String) -> Schema {
        Schema(type: .string, minLength: 1, maxLength: 128, pattern: #"^[ -!#-[\]-~]+$"#, defaultValue: .string(value))
    }

    package static var schema: Schema {
        Schema(type: .object, properties: [
            "header": Schema(type: .string, defaultValue: .string("apikey")),
            "query": Schema(type: .string, defaultValue: .string("apikey")),
            "realm": realmSchema(default: "key"),
            "hide_credentials": Schema(type: .boolean, defaultValue: .bool(false)),
            "anonymous_consumer": Schema(type: .string, minLength: 1),
        ])
    }

    static var consumerSchema: Schema {
        Schema(type: .object, properties: ["key": Schema(type: .string)], required: ["key"], custom: { conf in
            guard let key = conf["key"]?.stringValue, key.hasPrefix("$env://") || key.hasPrefix("$secret://") else { return nil }
            return "secret reference in key is not supported"
        })
    }

    package static var spec: PluginSpec {
        PluginSpec(schema: schema, consumerSchema: consumerSchema, isAuth: true, consumerEncryptFields: ["key"],
                   consumerKey: "key")
    }

    let header: RequestVariable
    let headerName: [UInt8]
    let query: RequestVariable
    let queryName: [UInt8]
    let hideCredentials: Bool
    let anonymous: String?
    let challenge: [UInt8]
    let anonymousFailure: String
    static let missing = Array(#"{"message":"Missing API key in request"}"#.utf8) + [0x0A]
    static let invalid = Array(#"{"message":"Invalid API key in request"}"#.utf8) + [0x0A]
    static let unauthorized = Array(#"{"message":"Invalid user authorization"}"#.utf8) + [0x0A]

    package init(config: JSONValue) throws(PluginBuildError) {
        headerName = Array((config["header"]?.stringValue ?? "apikey").utf8)
        header = .http(headerName.map { $0 == UInt8(ascii: "_") ? UInt8(ascii: "-") : ASCII.lower($0) })
        queryName = Array((config["query"]?.stringValue ?? "apikey").utf8)
        query = .arg(queryName)
        hideCredentials = config["hide_credentials"]?.boolValue ?? false
        anonymous = config["anonymous_consumer"]?.stringValue
        challenge = Array("apikey realm=\"\(config["realm"]?.stringValue ?? "key")\"".utf8)
        anonymousFailure = "key-auth failed to authenticate the request, code: 401. error: "
            + "failed to get anonymous consumer \(anonymous ?? "")"
    }

    package func rewrite(_ ctx: RequestContext) -> PhaseResult {
        let index = ctx.route?.consumers
        var fromHeader = true
        var present = false
        var found: ConsumerEntry? = ctx.variable(header) { value in
            guard let value else { return nil }
            present = true
            return index?.find(plugin: Self.name, key: value)?.entry
        }
        if !present {
            fromHeader = false
            found = ctx.variable(query) { value in
                guard let value else { return nil }
                present = true
                return ctx.withDecodedArgument(value) { index?.find(plugin: Self.name, key: $0)?.entry }
            }
        }
        if let found {
            if hideCredentials {
                if fromHeader { hideHeader(ctx) } else { ctx.removeQueryArgument(queryName) }
            }
            ctx.attachConsumer(found)
            return .next
        }
        guard let anonymous else { return refuse(ctx, present ? Self.invalid : Self.missing, log: nil) }
        if hideCredentials {
            hideHeader(ctx)
            ctx.removeQueryArgument(queryName)
        }
        guard let consumer = index?.consumer(named: anonymous) else {
            return refuse(ctx, Self.unauthorized, log: anonymousFailure)
        }
        ctx.attachConsumer(consumer)
        return .next
    }

    private func hideHeader(_ ctx: RequestContext) {
        headerName.withUnsafeBytes { ctx.removeRequestHeader($0) }
    }

    private func refuse(_ ctx: RequestContext, _ body: [UInt8], log: String?) -> PhaseResult {
        challenge.withUnsafeBytes { ctx.setResponseHeader("WWW-Authenticate", $0) }
        return .respond(status: 401, body: body, errorLog: log)
    }
}
