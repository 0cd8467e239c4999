// The `yaml` provider's file (apisix/core/config_yaml.lua): `#END` marker, `${{VAR}}`
// substitution, YAML, then every item through the same `ResourceCheck` the Admin API uses.

import Foundation

/// The `yaml` provider's file, `conf/apisix.yaml`, in APISIX's standalone format.
package enum StandaloneConfig {
    /// Resource lists APISIX's standalone file may hold that Sluice does not serve yet: a
    /// non-empty one is reported as `<name> is not supported`.
    package static let unsupportedResources: Set<String> = [
        "ssls",
        "stream_routes", "protos", "secrets", "plugins", "credentials",
    ]

    /// Loads the file: checks the `#END` marker, substitutes `${{VAR}}` / `${{VAR:=default}}`,
    /// parses YAML, validates every item of `ConfigItem.resources` (in that order). Invalid items are skipped, each with an error in `errors`
    /// (`failed to check item data of [routes] err: ...`). Throws (and the caller keeps its previous
    /// configuration) when the file as a whole is unusable: unreadable, no `#END`, not YAML.
    /// The returned snapshot has generation 0; the publisher numbers it.
    ///
    /// Item ids come from `id` (string, or integer printed without fraction), else a consumer's
    /// `username`, else `arr_<1-based index>`; a credential is a `consumers` item whose id is
    /// `<username>/credentials/<id>`. Plugin configurations are validated against `plugins` (the
    /// plugin registry's schemas; an unknown name gives `unknown plugin [x]`). A route whose `upstream_id` names no upstream of the file is
    /// kept (the data plane answers 502, as APISIX does) and reported as
    /// `failed to find upstream by id: <id>`. A non-empty unsupported resource list gives
    /// `<name> is not supported`; any other unknown top-level key gives
    /// `unknown resource type <name>, ignored`. Schema violations appear without the
    /// `invalid configuration: ` prefix, as APISIX logs them.
    package static func load(path: String, plugins: PluginSchemaLookup) throws(ConfigError) -> (snapshot: ConfigSnapshot, errors: [String]) {
        try load(path: path, environment: ProcessInfo.processInfo.environment, plugins: plugins)
    }

    /// `load(path:plugins:)` with the environment given (tests).
    package static func load(path: String, environment: [String: String],
                             plugins: PluginSchemaLookup) throws(ConfigError) -> (snapshot: ConfigSnapshot, errors: [String]) {
        let raw = try YAMLSupport.readText(path)
        guard hasEndMarker(raw) else { throw ConfigError("missing valid end flag in file \(path)") }
        let text = try substituteEnvironment(raw, environment: environment, path: path)
        let root = try YAMLSupport.compose(text, path: path).map(YAMLSupport.json) ?? .object([:])
        if case .null = root { return (ConfigSnapshot(), []) }
        guard case .object(let resources) = root else {
            throw ConfigError("invalid \(path): the top level must be a mapping of resource lists")
        }
        var errors: [String] = []
        var snapshot = ConfigSnapshot()

        for resource in ConfigItem.resources {
            for (index, item) in list(resources[resource], resource, &errors).enumerated() {
                // config_yaml.lua: a plugin_metadata item names its plugin by `id`, or is ignored.
                if resource == "plugin_metadata", item["id"]?.stringValue == nil { continue }
                let id = (item["id"] ?? item["username"]).flatMap(Route.idString) ?? "arr_\(index + 1)"
                switch ConfigItem.check(resource: resource, json: item, id: id, plugins: plugins, exists: nil) {
                case .success(let converted):
                    if case .route(let route) = converted, let upstreamId = route.upstreamId, snapshot.upstreams[upstreamId] == nil {
                        errors.append("failed to find upstream by id: \(upstreamId)")
                    }
                    snapshot.add(converted)
                case .failure(let error):
                    errors.append("failed to check item data of [\(resource)] err: \(error.detail)")
                }
            }
        }
        for name in resources.keys.sorted() where !ConfigItem.resources.contains(name) {
            if unsupportedResources.contains(name) {
                if case .array(let items) = resources[name]!, items.isEmpty { continue }
                if case .null = resources[name]! { continue }
                errors.append("\(name) is not supported")
            } else {
                errors.append("unknown resource type \(name), ignored")
            }
        }
        return (snapshot, errors)
    }

    /// The items of a resource list; a non-list is reported and yields none.
    private static func list(_ value: JSONValue?, _ name: String, _ errors: inout [String]) -> [JSONValue] {
        switch value {
        case nil, .null?: return []
        case .array(let items)?: return items
        default:
            errors.append("invalid \(name): expected a list")
            return []
        }
    }

    /// APISIX checks the last 10 bytes for `#END` followed only by whitespace, so a file cut
    /// short by an editor or a copy in progress is never loaded half.
    static func hasEndMarker(_ text: String) -> Bool {
        let tail = String(decoding: text.utf8.suffix(10), as: UTF8.self)
        guard let marker = tail.range(of: "#END", options: .backwards) else { return false }
        return tail[marker.upperBound...].utf8.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    }

    /// `${{NAME}}` and `${{NAME:=default}}` (spaces allowed inside the braces). An unset
    /// variable without default is an error naming it.
    static func substituteEnvironment(_ text: String, environment: [String: String],
                                      path: String) throws(ConfigError) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                out += rest[open.lowerBound...]
                return out
            }
            let body = rest[open.upperBound..<close.lowerBound]
            let name: String
            var fallback: String?
            if let separator = body.range(of: ":=") {
                name = body[..<separator.lowerBound].trimmingCharacters(in: .whitespaces)
                fallback = body[separator.upperBound...].trimmingCharacters(in: .whitespaces)
            } else {
                name = body.trimmingCharacters(in: .whitespaces)
            }
            guard let value = environment[name] ?? fallback else {
                throw ConfigError("can't find environment variable \(name) in \(path)")
            }
            out += value
            rest = rest[close.upperBound...]
        }
        return out + rest
    }
}
