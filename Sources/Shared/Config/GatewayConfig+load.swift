// PLACEHOLDER (replaced by the config work): the loader's signature is fixed.
extension GatewayConfig {
    /// Reads and validates `config.yaml`. Unknown keys become warnings naming them; a bad value of a
    /// known key throws an error naming the key. A missing file is an error.
    package static func load(path: String) throws(ConfigError) -> (config: GatewayConfig, warnings: [String]) {
        (GatewayConfig(), [])
    }
}
