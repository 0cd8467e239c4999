/// What ``TestUpstream`` does with a request: normally an HTTP response, built by its handler.
///
/// The upstream adds framing headers itself unless the handler set them: `Content-Length` (or
/// `Transfer-Encoding: chunked` when ``chunked``), and `Connection: close` when it will close the
/// connection (``closeAfter``, a request with `Connection: close`, or HTTP/1.0 without keep-alive).
/// Responses to `HEAD` carry the head only; 1xx, 204 and 304 get no body and no `Content-Length`.
package struct TestResponse: Sendable {
    /// What to do instead of (or how to send) a normal response.
    package enum Action: Sendable {
        /// Send the response described by the other fields.
        case respond
        /// Close the connection without sending anything (after ``TestResponse/delayMs``).
        case closeImmediately
        /// Close the connection with a TCP RST (`SO_LINGER` 0) without sending anything.
        case resetImmediately
        /// Send nothing and keep the connection open until the peer closes it or the upstream stops.
        case hang
        /// Send these bytes verbatim (no headers added), then keep the connection open for the next
        /// request unless ``TestResponse/closeAfter`` is set. For malformed or tricky responses.
        case raw([UInt8])
    }

    /// Status code. Default 200.
    package var status: Int
    /// Reason phrase; when nil a standard one for ``status`` is used.
    package var reason: String?
    /// Header fields, sent in this order and case.
    package var headers: [(name: String, value: String)]
    /// The body (sent first, before ``bodyRepeat``).
    package var body: [UInt8]
    /// A large body without holding it in memory: `chunk` sent `count` times after ``body``.
    package var bodyRepeat: (chunk: [UInt8], count: Int)?
    /// Send the body with `Transfer-Encoding: chunked`, in chunks of at most ``chunkSize`` bytes.
    package var chunked: Bool
    /// Largest chunk when ``chunked`` (each ``bodyRepeat`` chunk is also split at this size).
    package var chunkSize: Int
    /// Milliseconds to wait between two chunks when ``chunked`` (a slow, streaming upstream).
    package var chunkDelayMs: Int
    /// Milliseconds to wait before sending the head (or before the ``action``).
    package var delayMs: Int
    /// Milliseconds to wait between the head and the body.
    package var bodyDelayMs: Int
    /// Close the connection after this response (`Connection: close` is added to the head).
    package var closeAfter: Bool
    /// See ``Action``. Default ``Action/respond``.
    package var action: Action

    /// A response; every parameter has a plain default (200, empty body, no delay).
    package init(
        status: Int = 200, reason: String? = nil,
        headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        bodyRepeat: (chunk: [UInt8], count: Int)? = nil,
        chunked: Bool = false, chunkSize: Int = 4096, chunkDelayMs: Int = 0,
        delayMs: Int = 0, bodyDelayMs: Int = 0, closeAfter: Bool = false, action: Action = .respond
    ) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.bodyRepeat = bodyRepeat
        self.chunked = chunked
        self.chunkSize = max(1, chunkSize)
        self.chunkDelayMs = chunkDelayMs
        self.delayMs = delayMs
        self.bodyDelayMs = bodyDelayMs
        self.closeAfter = closeAfter
        self.action = action
    }

    /// A response with a UTF-8 text body and `Content-Type: text/plain`.
    package static func text(_ text: String, status: Int = 200, headers: [(name: String, value: String)] = []) -> TestResponse {
        TestResponse(status: status, headers: [("Content-Type", "text/plain")] + headers, body: Array(text.utf8))
    }

    /// A response with a JSON body given as text and `Content-Type: application/json`.
    package static func json(_ json: String, status: Int = 200, headers: [(name: String, value: String)] = []) -> TestResponse {
        TestResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(json.utf8))
    }

    /// This response with ``closeAfter`` set: the connection closes after it.
    package func closing() -> TestResponse {
        var copy = self
        copy.closeAfter = true
        return copy
    }

    /// This response sent after `ms` milliseconds (``delayMs``).
    package func delayed(ms: Int) -> TestResponse {
        var copy = self
        copy.delayMs = ms
        return copy
    }

    /// Total body length: ``body`` plus ``bodyRepeat``.
    package var bodyLength: Int { body.count + (bodyRepeat.map { $0.chunk.count * $0.count } ?? 0) }

    /// The standard reason phrase for a status code ("Unknown" for others).
    package static func standardReason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Payload Too Large"
        case 417: "Expectation Failed"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Unknown"
        }
    }
}
