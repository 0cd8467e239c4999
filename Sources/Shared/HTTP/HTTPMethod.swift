/// A request method (RFC 9110 §9), as recognized by the request parser.
///
/// Methods are case-sensitive (RFC 9110 §9.1): `get` is `.other`, not `.get`. The bytes of an
/// `.other` method are available through `HTTPRequestHead.methodRange`.
package enum HTTPMethod: UInt8, Sendable, Hashable, CaseIterable {
    /// `GET`
    case get
    /// `HEAD`
    case head
    /// `POST`
    case post
    /// `PUT`
    case put
    /// `DELETE`
    case delete
    /// `PATCH`
    case patch
    /// `OPTIONS`
    case options
    /// `CONNECT`
    case connect
    /// `TRACE`
    case trace
    /// `PURGE` (a de-facto cache method, routable in APISIX).
    case purge
    /// Any other syntactically valid method token.
    case other

    /// Classifies a method token without allocating.
    package init(bytes: UnsafeRawBufferPointer) {
        // Not `allCases`: that builds an array per call, and this runs once per request. Length
        // first, then whole-word compares against the candidates of that length.
        @inline(__always)
        func matches(_ literal: StaticString) -> Bool { ASCII.equals(bytes, literal) }
        switch bytes.count {
        case 3: self = matches("GET") ? .get : matches("PUT") ? .put : .other
        case 4: self = matches("POST") ? .post : matches("HEAD") ? .head : .other
        case 5: self = matches("PATCH") ? .patch : matches("TRACE") ? .trace : matches("PURGE") ? .purge : .other
        case 6: self = matches("DELETE") ? .delete : .other
        case 7: self = matches("OPTIONS") ? .options : matches("CONNECT") ? .connect : .other
        default: self = .other
        }
    }

    /// Classifies a method name (configuration time, e.g. a route's `methods`).
    package init(name: String) {
        var name = name
        self = name.withUTF8 { HTTPMethod(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// The canonical upper-case name; empty for `.other`.
    package var name: StaticString {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .delete: "DELETE"
        case .patch: "PATCH"
        case .options: "OPTIONS"
        case .connect: "CONNECT"
        case .trace: "TRACE"
        case .purge: "PURGE"
        case .other: ""
        }
    }
}
