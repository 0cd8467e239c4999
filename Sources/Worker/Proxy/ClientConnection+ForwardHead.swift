import CLibevent
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// The request head sent upstream (apisix-compat.md section 5).
extension ClientConnection {
    /// Whether a header named `name` is hop-by-hop because a `Connection` header names it
    /// (`tokens` are the parser's ranges into `bytes`).
    @inline(__always)
    static func isNamed(_ name: UnsafeRawBufferPointer, in tokens: [Range<Int>], _ bytes: UnsafeRawBufferPointer) -> Bool {
        for token in tokens where Bytes.equalsIgnoringCase(name, bytes.slice(token)) { return true }
        return false
    }

    /// Appends a client header field `name: value` unless a `Connection` header names it.
    @inline(__always)
    func appendEndToEnd(_ field: HTTPHeaderField, _ bytes: UnsafeRawBufferPointer, to out: inout ByteBuffer) {
        let name = bytes.slice(field.nameRange)
        let tokens = parser.head.connectionTokens
        if !tokens.isEmpty && Self.isNamed(name, in: tokens, bytes) { return }
        if Bytes.isFramingNameWithUnderscore(name) { return }
        out.append(name)
        out.append(": ")
        out.append(bytes.slice(field.valueRange))
        out.append("\r\n")
    }

    /// The request head for the upstream (apisix-compat.md section 5): the client's method and
    /// target, end-to-end headers, `Host` per `pass_host`, `X-Real-IP`, `X-Forwarded-*`, framing.
    func buildForwardHead(upstream: UpstreamRuntime) {
        let bytes = head.readable
        forwardHead.clear()
        let edited = !context.requestHeaders.isEmpty
        if let method = context.upstreamMethod {
            forwardHead.append(context.override(method))
        } else {
            forwardHead.append(bytes.slice(parser.head.methodRange))
        }
        forwardHead.append(UInt8(ascii: " "))
        let target = bytes.slice(parser.head.targetRange)
        if let uri = context.upstreamURI {
            forwardHead.append(context.override(uri))
        } else if target.first == UInt8(ascii: "/") || target.first == UInt8(ascii: "*") {
            forwardHead.append(target)
        } else if parser.head.pathRange.lowerBound >= parser.head.targetRange.upperBound {
            // Absolute-form without a path (`http://host`, `http://host?q`): `pathRange` is the
            // `/` of the version, after the target; send `/` and the query.
            forwardHead.append("/")
            if let query = parser.head.queryRange {
                forwardHead.append("?")
                forwardHead.append(bytes.slice(query))
            }
        } else {
            // Absolute-form: send origin-form.
            forwardHead.append(bytes.slice(parser.head.pathRange.lowerBound..<parser.head.targetRange.upperBound))
        }
        forwardHead.append(" HTTP/1.1\r\nHost: ")
        // A plugin's host (proxy-rewrite `host`) applies with `pass_host: pass`; the upstream's
        // `node` and `rewrite` win, as in APISIX.
        let pluginHost = upstream.config.passHost == .pass ? context.upstreamHost : nil
        let passHost = pluginHost == nil ? upstream.config.passHost : .rewrite
        switch passHost {
        case .pass:
            if let hostRange = parser.head.hostRange {
                forwardHead.append(bytes.slice(hostRange))
            } else {
                forwardHead.append(upstream.peers[0].hostHeader)
            }
        case .node:
            // Filled per peer in `startSending`; reserve nothing here.
            break
        case .rewrite:
            if let host = pluginHost {
                forwardHead.append(context.override(host))
            } else {
                forwardHead.append(upstream.rewriteHost)
            }
        }
        if passHost != .node { forwardHead.append("\r\n") }
        hostHeaderEnd = passHost == .node ? forwardHead.writeIndex : -1
        for field in parser.head.headers {
            switch field.known {
            case .host, .connection, .keepAlive, .proxyConnection, .upgrade, .te, .trailer,
                 .transferEncoding, .contentLength, .expect, .xRealIP, .xForwardedProto,
                 .xForwardedHost, .xForwardedPort, .forwarded, .xForwardedFor:
                continue
            default:
                if edited && context.requestHeaders.replaces(bytes.slice(field.nameRange)) { continue }
                appendEndToEnd(field, bytes, to: &forwardHead)
            }
        }
        if edited { appendEdits(context.requestHeaders) }
        // The client's chain, every X-Forwarded-For line joined in order, then our peer: one line
        // (APISIX's `$proxy_add_x_forwarded_for`).
        forwardHead.append("X-Forwarded-For: ")
        for field in parser.head.headers where field.known == .xForwardedFor && !field.valueRange.isEmpty {
            forwardHead.append(bytes.slice(field.valueRange))
            forwardHead.append(", ")
        }
        appendRemoteAddr(to: &forwardHead)
        forwardHead.append("\r\nX-Real-IP: ")
        appendRemoteAddr(to: &forwardHead)
        forwardHead.append("\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: ")
        if let hostRange = parser.head.hostRange {
            let hostBytes = bytes.slice(hostRange)
            forwardHead.append(hostBytes)
            forwardHead.append("\r\nX-Forwarded-Port: ")
            if let port = Bytes.port(ofHost: hostBytes) {
                forwardHead.append(port)
            } else {
                forwardHead.append(decimal: Int64(listenerPort))
            }
        } else {
            forwardHead.append("\r\nX-Forwarded-Port: ")
            forwardHead.append(decimal: Int64(listenerPort))
        }
        switch requestBody {
        case .none:
            // RFC 9110 §8.6: a POST/PUT/PATCH with no body says so.
            if parser.head.method == .post || parser.head.method == .put || parser.head.method == .patch {
                forwardHead.append("\r\nContent-Length: 0")
            }
        case .length:
            forwardHead.append("\r\nContent-Length: ")
            forwardHead.append(decimal: requestRemaining)
        case .chunked:
            forwardHead.append("\r\nTransfer-Encoding: chunked")
        }
        forwardHead.append("\r\n\r\n")
    }

    /// The forwarded head did not fit `forwardHeadLimit` (a configured host or credential larger
    /// than the client's head allows for): never sent truncated.
    func respondForwardHeadTooLarge() {
        worker.logger.log(.error, "request head for the upstream exceeds \(Self.forwardHeadLimit) bytes, client: \(peer.hostText)")
        respondError(431, close: true)
    }

    /// The request headers plugins added or set. Framing, hop-by-hop, `Host` and the forwarding
    /// headers (`X-Forwarded-*`, `X-Real-IP`) are the gateway's to write, once each (`Host` edits
    /// go to `setUpstreamHost`), so such edits are not sent.
    func appendEdits(_ edits: HeaderEdits) {
        edits.appendLines(to: &forwardHead, skipping: Self.isGatewayOwned)
    }

    static func isGatewayOwned(_ name: UnsafeRawBufferPointer) -> Bool {
        Bytes.isFramingOrHopByHop(name) || Bytes.equalsIgnoringCase(name, "host")
            || Bytes.equalsIgnoringCase(name, "x-real-ip") || Bytes.equalsIgnoringCase(name, "x-forwarded-for")
            || Bytes.equalsIgnoringCase(name, "x-forwarded-proto") || Bytes.equalsIgnoringCase(name, "x-forwarded-host")
            || Bytes.equalsIgnoringCase(name, "x-forwarded-port")
    }
}
