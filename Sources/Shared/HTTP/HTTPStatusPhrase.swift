/// The reason phrase of every status code Sluice sends without one of its own: RFC 9110 section 15
/// (plus 418, 429 and 431 from RFCs 9110/6585), worded as nginx words them where nginx differs
/// (`ngx_http_status_lines` in ngx_http_header_filter_module.c), so error pages and status lines
/// read as an nginx user expects. An unknown code has an empty phrase, as nginx sends it.
package enum HTTPStatusPhrase {
    package static func of(_ status: Int) -> StaticString {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 102: "Processing"
        case 103: "Early Hints"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 203: "Non-Authoritative Information"
        case 204: "No Content"
        case 205: "Reset Content"
        case 206: "Partial Content"
        case 207: "Multi-Status"
        case 300: "Multiple Choices"
        case 301: "Moved Permanently"
        case 302: "Moved Temporarily" // nginx's wording (RFC 9110: Found)
        case 303: "See Other"
        case 304: "Not Modified"
        case 305: "Use Proxy"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Not Allowed" // nginx's wording (RFC 9110: Method Not Allowed)
        case 406: "Not Acceptable"
        case 407: "Proxy Authentication Required"
        case 408: "Request Time-out" // nginx's wording
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Request Entity Too Large" // nginx's wording (RFC 9110: Content Too Large)
        case 414: "Request-URI Too Large" // nginx's wording (RFC 9110: URI Too Long)
        case 415: "Unsupported Media Type"
        case 416: "Requested Range Not Satisfiable" // nginx's wording
        case 417: "Expectation Failed"
        case 418: "I'm a teapot"
        case 421: "Misdirected Request"
        case 422: "Unprocessable Entity"
        case 423: "Locked"
        case 424: "Failed Dependency"
        case 425: "Too Early"
        case 426: "Upgrade Required"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 451: "Unavailable For Legal Reasons"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Temporarily Unavailable" // nginx's wording
        case 504: "Gateway Time-out" // nginx's wording
        case 505: "HTTP Version Not Supported"
        case 506: "Variant Also Negotiates"
        case 507: "Insufficient Storage"
        case 508: "Loop Detected"
        case 510: "Not Extended"
        case 511: "Network Authentication Required"
        default: ""
        }
    }
}
