import Shared

/// Canned responses the worker produces itself: nginx's HTML error pages (footer `sluice`, see the
/// "deliberately differs" table of apisix-compat.md) and APISIX's route-not-found JSON.
package enum ResponsePages {
    /// nginx's built-in page for `status`, CRLF line endings.
    package static func htmlPage(_ status: Int) -> [UInt8] {
        let title = "\(status) \(HTTPStatusPhrase.of(status))"
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
