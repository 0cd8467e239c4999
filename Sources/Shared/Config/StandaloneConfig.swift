// PLACEHOLDER (replaced by the config work): the signatures are fixed.

/// The `yaml` provider's file, `conf/apisix.yaml`, in APISIX's standalone format.
package enum StandaloneConfig {
    /// Loads the file: checks the `#END` marker, substitutes `${{VAR}}` / `${{VAR:=default}}`,
    /// parses YAML, validates every item. Invalid items are skipped, each with an error in `errors`
    /// (`failed to check item data of [routes] err: ...`). Throws (and the caller keeps its previous
    /// configuration) when the file as a whole is unusable: unreadable, no `#END`, not YAML.
    /// The returned snapshot has generation 0; the publisher numbers it.
    package static func load(path: String) throws(ConfigError) -> (snapshot: ConfigSnapshot, errors: [String]) {
        (ConfigSnapshot(), [])
    }
}
