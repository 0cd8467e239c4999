/// Every way an exchange with one upstream peer can fail before a response reached the client,
/// and the one decision that follows (nginx's `ngx_http_upstream_next`): try the same peer again
/// on a fresh connection, try the next peer, or answer the client.
///
/// The rules, as nginx's defaults have them (`proxy_next_upstream error timeout`,
/// `proxy_next_upstream_tries` = the upstream's `retries`):
/// - errors and timeouts are retried on the next untried peer while tries are left and the
///   request can be sent again (its body is kept, or it has none);
/// - a request already sent is not sent again when it is not idempotent (POST, PATCH, CONNECT,
///   unknown methods), since the upstream may have acted on it;
/// - an invalid or oversized response head, and a protocol switch, are answered at once;
/// - a pooled connection that the peer had closed (the write fails, or EOF comes before any byte)
///   is not the peer's fault: the request goes once more to the same peer on a new connection,
///   whatever the method, because nothing reached the peer;
/// - timeouts answer 504, everything else 502.
package enum UpstreamFailure: Equatable, Sendable {
    case resolve
    case connect
    case connectTimeout
    /// The TLS session could not even be set up (no context, SSL_new failed): not the peer's fault.
    case tlsSetup
    case handshake
    case handshakeTimeout
    case send
    case sendTimeout
    /// EOF or a read error before the whole response head.
    case read
    case readTimeout
    case invalidHeader
    case headerTooBig
    case protocolSwitch
    /// Every peer was tried (or the balancer had none to give).
    case noPeer

    /// The status for `$upstream_status` and, for a proxied request, the client.
    package var status: Int {
        switch self {
        case .connectTimeout, .handshakeTimeout, .sendTimeout, .readTimeout: 504
        default: 502
        }
    }

    /// nginx's `error` and `timeout` classes, which the next peer may not share.
    var isRetryable: Bool {
        switch self {
        case .resolve, .connect, .connectTimeout, .handshake, .handshakeTimeout, .send, .sendTimeout, .read, .readTimeout: true
        case .tlsSetup, .invalidHeader, .headerTooBig, .protocolSwitch, .noPeer: false
        }
    }

    /// Whether the request (or part of it) may have reached the peer.
    var afterSending: Bool {
        switch self {
        case .send, .sendTimeout, .read, .readTimeout: true
        default: false
        }
    }
}

/// What the exchange knows when a failure happens.
package struct UpstreamAttempt: Equatable, Sendable {
    /// Tries left after this one (`retries`, counted down).
    package var triesLeft: Int
    /// Peers of the upstream not tried yet for this request.
    package var untriedPeers: Int
    /// The request can be sent again: no body, or all of it kept.
    package var replayable: Bool
    /// GET, HEAD, PUT, DELETE, OPTIONS, TRACE (RFC 9110 §9.2.2).
    package var idempotent: Bool
    /// This try used a pooled keep-alive connection.
    package var reusedConnection: Bool
    /// The one stale-connection retry of this request is spent.
    package var staleRetryUsed: Bool
    /// Bytes of a response arrived on this connection before the failure.
    package var readAnyByte: Bool

    package init(triesLeft: Int, untriedPeers: Int, replayable: Bool, idempotent: Bool,
                 reusedConnection: Bool = false, staleRetryUsed: Bool = false, readAnyByte: Bool = false) {
        self.triesLeft = triesLeft
        self.untriedPeers = untriedPeers
        self.replayable = replayable
        self.idempotent = idempotent
        self.reusedConnection = reusedConnection
        self.staleRetryUsed = staleRetryUsed
        self.readAnyByte = readAnyByte
    }
}

package enum UpstreamDecision: Equatable, Sendable {
    /// The same peer on a fresh connection (the pooled one was stale); not a counted try.
    case retryStale
    /// The next untried peer; one try is spent.
    case nextPeer
    /// Answer the client (`status` is the upstream status to record).
    case fail(status: Int)
}

extension UpstreamFailure {
    package func decide(_ attempt: UpstreamAttempt) -> UpstreamDecision {
        let staleCandidate = (self == .send || (self == .read && !attempt.readAnyByte))
        if staleCandidate && attempt.reusedConnection && !attempt.staleRetryUsed && attempt.replayable {
            return .retryStale
        }
        guard isRetryable, attempt.replayable, attempt.triesLeft > 0, attempt.untriedPeers > 0 else {
            return .fail(status: status)
        }
        if afterSending && !attempt.idempotent { return .fail(status: status) }
        return .nextPeer
    }
}
