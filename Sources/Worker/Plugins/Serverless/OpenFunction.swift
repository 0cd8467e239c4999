package import Shared

/// `openfunction`: calls a CNCF OpenFunction function (APISIX's apisix/plugins/openfunction.lua).
/// Priority -1902, after authentication and limiting plugins. `authorization.service_token` is sent
/// as `Authorization: Basic base64(token)` (the token as written: `user:pass`).
package enum OpenFunction: ServerlessProvider {
    package static let encryptFields = ["authorization.service_token"]
    package static let name = "openfunction"
    package static let priority = -1902
    /// Validated, unlike APISIX's (see the differences table): an object whose `service_token` is a string.
    package static let authorizationSchema = Schema(type: .object, properties: [
        "service_token": Schema(type: .string),
    ])
    package static func authorizationHeader(_ config: JSONValue) -> [UInt8]? {
        guard let token = config["authorization"]?["service_token"]?.stringValue, !token.isEmpty else { return nil }
        return Array("Basic ".utf8) + Base64.encode(Array(token.utf8))
    }
}

/// The registry's entry for `openfunction`.
package final class OpenFunctionPlugin: ServerlessPlugin<OpenFunction> {}
