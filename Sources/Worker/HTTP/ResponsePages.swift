/// Canned responses the worker produces itself: nginx's HTML error pages (footer `sluice`, see the
/// "deliberately differs" table of apisix-compat.md) and APISIX's route-not-found JSON.
package enum ResponsePages {
    /// The status line's reason and the page title for the codes Sluice generates.
    package static func reason(_ status: Int) -> StaticString {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 408: "Request Time-out"
        case 413: "Request Entity Too Large"
        case 414: "Request-URI Too Large"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Temporarily Unavailable"
        case 504: "Gateway Time-out"
        case 505: "HTTP Version Not Supported"
        default: "Unknown"
        }
    }

    /// nginx's built-in page for `status`, CRLF line endings.
    package static func htmlPage(_ status: Int) -> [UInt8] {
        let title = "\(status) \(reason(status))"
        return Array(("<html>\r\n<head><title>\(title)</title></head>\r\n<body>\r\n"
            + "<center><h1>\(title)</h1></center>\r\n<hr><center>sluice</center>\r\n</body>\r\n</html>\r\n").utf8)
    }

    /// Pages prebuilt once per process, indexed by status.
    package static let pages: [Int: [UInt8]] = {
        var all: [Int: [UInt8]] = [:]
        for status in [400, 403, 404, 408, 413, 414, 431, 500, 501, 502, 503, 504, 505] {
            all[status] = htmlPage(status)
        }
        return all
    }()

    /// APISIX's body for a request no route matches (apisix/init.lua), with its newline.
    package static let routeNotFound: [UInt8] = Array("{\"error_msg\":\"404 Route Not Found\"}\n".utf8)
}
