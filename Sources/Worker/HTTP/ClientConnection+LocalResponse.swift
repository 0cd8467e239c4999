import CLibevent
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// Responses the worker makes itself: error pages, plugin answers, 404.
extension ClientConnection {
    /// An nginx HTML error page.
    func respondError(_ status: Int, close: Bool = false, upstreamStatusHeader: Bool = false) {
        if close { machine.closeAfterThisResponse() }
        respond(status: status, contentType: "text/html", body: ResponsePages.pages[status] ?? ResponsePages.htmlPage(status),
                upstreamStatusHeader: upstreamStatusHeader)
    }

    /// An error while the request body was still arriving: answer and close.
    func abortWithError(_ status: Int) {
        if let conn = upstreamConn { dropUpstream(conn) }
        if responseHeadDone {
            close()
            return
        }
        machine.closeAfterThisResponse()
        respondError(status)
    }

    func respond(status: Int, contentType: StaticString, body: [UInt8], upstreamStatusHeader: Bool = false) {
        self.status = status
        machine.startLocalResponse()
        output.append("HTTP/1.1 ")
        output.append(decimal: Int64(status))
        output.append(" ")
        output.append(HTTPStatusPhrase.of(status))
        output.append("\r\n")
        output.append(worker.serverHeader)
        worker.clock.refresh()
        output.append("Date: ")
        output.append(worker.clock.httpDate)
        output.append("\r\nContent-Type: ")
        output.append(contentType)
        output.append("\r\nContent-Length: ")
        output.append(decimal: Int64(body.count))
        output.append("\r\n")
        if upstreamStatusHeader { appendUpstreamStatusHeader() }
        output.append(keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n")
        machine.responseHeadStarted()
        if !isHead {
            output.append(body)
            bodyBytesSent = Int64(body.count)
        }
        completeResponse()
    }
}
