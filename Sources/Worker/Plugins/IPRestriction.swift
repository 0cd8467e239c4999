package import Shared

/// `ip-restriction` (apisix/plugins/ip-restriction/init.lua; plugins.md section 12): priority
/// 3000, access. Exactly one of `whitelist` / `blacklist` (IPv4, IPv6, with or without a CIDR
/// prefix); the client address (`remote_addr`, after the real-ip rules) outside the whitelist or
/// inside the blacklist gets `response_code` (403 or 404) with `{"message":"<message>"}`. The
/// lists are parsed once per snapshot; a request compares its address with each entry.
package final class IPRestrictionPlugin: Plugin {
    package static let name = "ip-restriction"
    package static let priority = 3000
    package static let phases: PluginPhases = [.access]

    package static var schema: Schema {
        let list = Schema(type: .array, items: CoreSchemas.remoteAddr, minItems: 1)
        return Schema(type: .object, properties: [
            "message": Schema(type: .string, minLength: 1, maxLength: 1024, defaultValue: .string("Your IP address is not allowed")),
            "response_code": Schema(type: .integer, minimum: 403, maximum: 404, defaultValue: .number(403)),
            "whitelist": list,
            "blacklist": list,
        ], oneOf: [Schema(required: ["whitelist"]), Schema(required: ["blacklist"])], custom: { conf in
            // ip-restriction's check_schema: what the patterns let through must parse.
            for field in ["whitelist", "blacklist"] {
                for item in conf[field]?.arrayValue ?? [] {
                    if let text = item.stringValue, CIDR(text) == nil { return "invalid ip address: \(text)" }
                }
            }
            return nil
        })
    }

    let ranges: [CIDR]
    /// true: a whitelist (refuse what no range contains); false: a blacklist.
    let allowList: Bool
    let status: Int
    let body: [UInt8]

    package init(config: JSONValue) throws(PluginBuildError) {
        allowList = config["whitelist"] != nil
        let texts = (config[allowList ? "whitelist" : "blacklist"]?.arrayValue ?? []).compactMap(\.stringValue)
        var ranges: [CIDR] = []
        for text in texts {
            guard let range = CIDR(text) else { throw PluginBuildError("invalid ip address: \(text)") }
            ranges.append(range)
        }
        self.ranges = ranges
        status = config["response_code"]?.intValue ?? 403
        let message = config["message"]?.stringValue ?? "Your IP address is not allowed"
        body = Array((JSONValue.object(["message": .string(message)]).jsonText + "\n").utf8)
    }

    package func access(_ ctx: RequestContext) -> PhaseResult {
        // A context without a connection (a unit test) has no address: only a whitelist refuses it.
        let address = ctx.connection?.remoteAddress()
        let listed = address.map { address in ranges.contains { $0.contains(address) } } ?? false
        return listed == allowList ? .next : .respond(status: status, body: body, errorLog: nil)
    }
}
