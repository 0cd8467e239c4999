import CLibevent
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// error.log lines in nginx's words and the access.log line.
extension ClientConnection {
    /// Logs an upstream failure in nginx's words, or for a function call as the plugin does:
    /// `failed to process openfunction, err: <reason>`.
    func logUpstreamError(_ message: String, peerIndex: Int, reason: String? = nil) {
        guard worker.logger.enabled(.error) else { return }
        if let function {
            worker.logger.log(.error, "failed to process \(function.pluginName), err: \(reason ?? message), client: \(peer.hostText)")
            return
        }
        let bytes = head.readable
        let method = ByteBuffer.logEscaped(bytes.slice(parser.head.methodRange))
        let target = ByteBuffer.logEscaped(bytes.slice(parser.head.targetRange))
        let host = parser.head.hostRange.map { ByteBuffer.logEscaped(bytes.slice($0)) } ?? ""
        let url = upstream.map { $0.peers[peerIndex].url } ?? ""
        worker.logger.log(.error, "\(message), client: \(peer.hostText), server: , request: \"\(method) \(target) HTTP/1.\(parser.head.versionMinor)\", upstream: \"\(url)\(target)\", host: \"\(host)\"")
    }

    /// The request is over: the plugins' log phase, then the access.log line.
    func writeAccessLog() {
        runLogPhase()
        guard let log = worker.accessLog else { return }
        worker.clock.refresh()
        let bytes = head.readable
        let now = monotonicMilliseconds()
        appendRemoteAddr(to: &log.line)
        log.line.append(" - - [")
        log.line.append(worker.clock.logTime)
        log.line.append("] \"")
        if parser.head.headEnd > 0 && head.count > 0 {
            log.line.appendLogEscaped(bytes.slice(parser.head.methodRange))
            log.line.append(" ")
            log.line.appendLogEscaped(bytes.slice(parser.head.targetRange))
            log.line.append(parser.head.versionMinor == 0 ? " HTTP/1.0" : " HTTP/1.1")
        }
        log.line.append("\" ")
        log.line.append(decimal: Int64(status))
        log.line.append(" ")
        log.line.append(decimal: bodyBytesSent)
        log.line.append(" \"")
        appendHeaderValue(named: "referer", to: &log.line)
        log.line.append("\" \"")
        appendHeaderValue(named: "user-agent", to: &log.line)
        log.line.append("\" ")
        if let upstream, !upstreamPeers.isEmpty {
            for (i, p) in upstreamPeers.enumerated() {
                if i > 0 { log.line.append(", ") }
                log.line.append(upstream.peers[p].name)
            }
            log.line.append(" ")
            for (i, s) in upstreamStatuses.enumerated() {
                if i > 0 { log.line.append(", ") }
                log.line.append(decimal: Int64(s))
            }
            if upstreamStatuses.isEmpty { log.line.append("-") }
        } else {
            log.line.append("- -")
        }
        log.line.append(" ")
        appendSeconds(now - requestStartMs, to: &log.line)
        log.line.append(" ")
        if upstreamHeaderMs >= 0 {
            appendSeconds(now - upstreamStartMs, to: &log.line)
        } else {
            log.line.append("-")
        }
        log.line.append("\n")
        log.flushLine()
    }

    func appendHeaderValue(named name: StaticString, to line: inout ByteBuffer) {
        let bytes = head.readable
        for field in parser.head.headers where Bytes.equalsIgnoringCase(bytes.slice(field.nameRange), name) {
            line.appendLogEscaped(bytes.slice(field.valueRange))
            return
        }
        line.append("-")
    }

    /// `0.003` from milliseconds.
    func appendSeconds(_ ms: Int64, to line: inout ByteBuffer) {
        let v = max(0, ms)
        line.append(decimal: v / 1000)
        line.append(".")
        let frac = v % 1000
        if frac < 100 { line.append("0") }
        if frac < 10 { line.append("0") }
        line.append(decimal: frac)
    }
}
