/// One HTTP request as ``TestUpstream`` received it.
package struct TestRequest: Sendable {
    /// The method, e.g. `GET`.
    package var method: String
    /// The request target exactly as sent, e.g. `/a%2Fb?x=1` (origin form) or an absolute URI.
    package var target: String
    /// The protocol version from the request line, e.g. `HTTP/1.1`.
    package var version: String
    /// Header fields in the order received, names with their original case, values without
    /// surrounding whitespace. Repeated fields stay separate entries.
    package var headers: [(name: String, value: String)]
    /// The body, de-chunked when it was sent chunked. Empty when there was none.
    package var body: [UInt8]
    /// Trailer fields of a chunked body (empty otherwise).
    package var trailers: [(name: String, value: String)]
    /// Which accepted connection carried this request: 0 for the upstream's first connection, 1 for
    /// the second, and so on (see ``TestUpstream/acceptedConnections``).
    package var connectionIndex: Int
    /// 0 for the first request on its connection, 1 for the second (keep-alive reuse), ...
    package var indexOnConnection: Int
    /// Whether the upstream sent `100 Continue` before reading this request's body.
    package var sentContinue: Bool

    /// Creates a request (mostly for tests of handlers).
    package init(
        method: String, target: String, version: String = "HTTP/1.1",
        headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        trailers: [(name: String, value: String)] = [],
        connectionIndex: Int = 0, indexOnConnection: Int = 0, sentContinue: Bool = false
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.trailers = trailers
        self.connectionIndex = connectionIndex
        self.indexOnConnection = indexOnConnection
        self.sentContinue = sentContinue
    }

    /// The first value of header `name`, compared case-insensitively; nil when absent.
    package func header(_ name: String) -> String? { HTTPParsing.header(headers, name) }

    /// Every value of header `name` (case-insensitive), in the order received.
    package func headerValues(_ name: String) -> [String] { HTTPParsing.headerValues(headers, name) }

    /// Whether the body arrived with `Transfer-Encoding: chunked`.
    package var wasChunked: Bool { HTTPParsing.isChunked(headers) }

    /// The body decoded as UTF-8 (invalid bytes replaced).
    package var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The path part of ``target`` (before any `?`).
    package var path: String { String(target.prefix { $0 != "?" }) }

    /// The query part of ``target`` (after the first `?`), nil when there is no `?`.
    package var query: String? {
        guard let q = target.firstIndex(of: "?") else { return nil }
        return String(target[target.index(after: q)...])
    }
}
