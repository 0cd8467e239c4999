/// Why `ResourceCheck` refused a route or upstream.
///
/// Two kinds, because APISIX words them differently depending on who asks: a schema violation
/// is wrapped as `invalid configuration: <detail>` by the Admin API's PUT/POST/PATCH but shown
/// bare by `/apisix/admin/schema/validate/*` and by the standalone loader; every other check
/// (`only one of host or hosts is allowed`, `unknown plugin [x]`, `invalid port 70000`,
/// `service_id is not supported`, ...) carries its full text in `detail` already, including the
/// few that APISIX itself prefixes (`invalid configuration: IPv6 address must be enclosed with
/// '[' and ']'`).
package struct CheckError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which wording rules apply to `detail`.
    package enum Kind: Sendable, Equatable {
        /// A JSON-schema violation; `detail` is the bare jsonschema text.
        case schema
        /// Any other check; `detail` is the complete text.
        case check
    }

    /// Schema violation or other check.
    package var kind: Kind
    /// The text without the schema prefix.
    package var detail: String

    /// An error of `kind` with text `detail`.
    package init(_ kind: Kind, _ detail: String) { self.kind = kind; self.detail = detail }

    /// The Admin API's `error_msg`: `invalid configuration: <detail>` for schema violations,
    /// `detail` otherwise.
    package var message: String { kind == .schema ? "invalid configuration: " + detail : detail }
    package var description: String { message }
}
