@testable import Shared

/// The error `GatewayConfig.load` gives for a config.yaml holding `yaml`, its path shown as
/// `<path>`; nil when the file loads.
func loadError(_ yaml: String) throws -> String? {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = try directory.write("conf/config.yaml", yaml)
    do {
        _ = try GatewayConfig.load(path: path)
        return nil
    } catch {
        return error.message.replacingOccurrences(of: path, with: "<path>")
    }
}
