package import Shared

/// A route's plugins as a request runs them, built once per snapshot: sorted by priority (a conf's
/// `_meta.priority` overrides its plugin's, `plugin.lua` `custom_sort_plugin`), `_meta.disable`d
/// ones left out, each with its compiled `_meta.filter` and `_meta.error_response`.
package struct PluginChain {
    package struct Entry {
        package let plugin: any Plugin
        package let name: String
        package let phases: PluginPhases
        package let priority: Int
        /// Runs the plugin only for requests it matches (`_meta.filter`).
        package let filter: Expr?
        /// Replaces the body of any answer of status >= 400 the plugin gives (`_meta.error_response`:
        /// a string as it is, an object JSON-encoded with a newline).
        package let errorResponse: [UInt8]?
    }

    package let entries: [Entry]
    /// Every phase some entry implements: a phase no plugin has costs one test.
    package let phases: PluginPhases

    package static var empty: PluginChain { PluginChain(entries: []) }

    package init(entries: [Entry]) {
        self.entries = entries
        phases = entries.reduce(into: PluginPhases()) { $0.formUnion($1.phases) }
    }

    /// Builds a route's chain from its `plugins` object. A plugin disabled with `_meta.disable` is
    /// left out; configurations get their schema defaults here.
    package static func build(_ plugins: [String: JSONValue], types: [String: any Plugin.Type]) -> (chain: PluginChain, errors: [String]) {
        var cache = EntryCache()
        return build(plugins, types: types, cache: &cache)
    }

    /// Entries already built for one snapshot, by plugin name and configuration text: the routes
    /// of one service, or with equal configurations, share one instance (plugins keep no
    /// per-route or per-request state of their own), so 10,000 routes over 1,000 services build
    /// about 1,000 plugins, not 10,000.
    package struct EntryCache {
        var entries: [String: Entry] = [:]
        package init() {}
    }

    /// `build`, reusing and filling `cache`.
    package static func build(_ plugins: [String: JSONValue], types: [String: any Plugin.Type],
                              cache: inout EntryCache) -> (chain: PluginChain, errors: [String]) {
        if plugins.isEmpty { return (.empty, []) }
        var built: [Entry] = []
        var errors: [String] = []
        for (name, conf) in plugins {
            guard let type = types[name] else {
                errors.append("unknown plugin [\(name)]")
                continue
            }
            let meta = conf["_meta"]
            if meta?["disable"] == .bool(true) { continue }
            let key = name + "\u{0}" + conf.jsonText
            if let entry = cache.entries[key] {
                built.append(entry)
                continue
            }
            do {
                let plugin = try type.init(config: type.schema.applyingDefaults(to: conf))
                let filter = try meta?["filter"].map { (f: JSONValue) throws(ExprError) in try Expr(f) }
                var errorResponse: [UInt8]?
                switch meta?["error_response"] {
                case .string(let s)?: errorResponse = Array(s.utf8)
                case let object?: errorResponse = Array((object.jsonText + "\n").utf8)
                case nil: break
                }
                let priority = meta?["priority"]?.intValue ?? type.priority
                let entry = Entry(plugin: plugin, name: name, phases: type.phases, priority: priority,
                                  filter: filter, errorResponse: errorResponse)
                cache.entries[key] = entry
                built.append(entry)
            } catch let error as PluginBuildError {
                errors.append("failed to build plugin \(name): \(error.message)")
            } catch let error as ExprError {
                errors.append("failed to validate the 'vars' expression: \(error.message)")
            } catch {
                errors.append("failed to build plugin \(name): \(error)")
            }
        }
        // Same priority: by name, so the order never depends on a dictionary's.
        built.sort { $0.priority != $1.priority ? $0.priority > $1.priority : $0.name < $1.name }
        return (PluginChain(entries: built), errors)
    }
}
