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
        machine.startLocalResponse()
        // header_filter and body_filter run for the worker's own answers too (plugins.md 0.3).
        context.status = status
        runHeaderFilter()
        self.status = context.status
        let edited = !context.responseHeaders.isEmpty
        body.withUnsafeBytes { original in
            var finalBody = original
            if hasBodyFilter && !isHead {
                // The whole body is at hand: one call, and Content-Length is its filtered length.
                filterBody(original, last: true) { finalBody = $0 }
            }
            output.append("HTTP/1.1 ")
            output.append(decimal: Int64(self.status))
            output.append(" ")
            output.append(HTTPStatusPhrase.of(self.status))
            output.append("\r\n")
            output.append(worker.serverHeader)
            worker.clock.refresh()
            output.append("Date: ")
            output.append(worker.clock.httpDate)
            output.append("\r\n")
            if !edited || !context.responseHeaders.replaces(Self.contentTypeName) {
                output.append("Content-Type: ")
                output.append(contentType)
                output.append("\r\n")
            }
            output.append("Content-Length: ")
            output.append(decimal: Int64(isHead ? original.count : finalBody.count))
            output.append("\r\n")
            if upstreamStatusHeader { appendUpstreamStatusHeader() }
            if edited { appendResponseEdits(context.responseHeaders) }
            output.append(keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n")
            machine.responseHeadStarted()
            if !isHead {
                output.append(finalBody)
                bodyBytesSent = Int64(finalBody.count)
            }
        }
        completeResponse()
    }

    private static var contentTypeName: UnsafeRawBufferPointer {
        let name: StaticString = "content-type"
        return UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
    }
}
