import Testing
@testable import Worker

/// `UpstreamFailure.decide`: nginx's `ngx_http_upstream_next` with `proxy_next_upstream error
/// timeout`, the non-idempotent rule and the stale pooled-connection retry.
@Suite struct UpstreamFailureTests {
    private func attempt(tries: Int = 1, peers: Int = 1, replayable: Bool = true, idempotent: Bool = true,
                         reused: Bool = false, staleUsed: Bool = false, readAny: Bool = false) -> UpstreamAttempt {
        UpstreamAttempt(triesLeft: tries, untriedPeers: peers, replayable: replayable, idempotent: idempotent,
                        reusedConnection: reused, staleRetryUsed: staleUsed, readAnyByte: readAny)
    }

    @Test func statuses() {
        for f in [UpstreamFailure.connectTimeout, .handshakeTimeout, .sendTimeout, .readTimeout] { #expect(f.status == 504) }
        for f in [UpstreamFailure.resolve, .connect, .tlsSetup, .handshake, .send, .read, .invalidHeader, .headerTooBig, .protocolSwitch, .noPeer] {
            #expect(f.status == 502)
        }
    }

    /// Errors and timeouts go to the next peer while tries and peers are left.
    @Test func retriesWhileTriesAndPeersAreLeft() {
        for f in [UpstreamFailure.resolve, .connect, .connectTimeout, .handshake, .handshakeTimeout, .read, .readTimeout, .send, .sendTimeout] {
            #expect(f.decide(attempt()) == .nextPeer, "\(f)")
            #expect(f.decide(attempt(tries: 0)) == .fail(status: f.status), "\(f)")
            #expect(f.decide(attempt(peers: 0)) == .fail(status: f.status), "\(f)")
            #expect(f.decide(attempt(replayable: false)) == .fail(status: f.status), "\(f)")
        }
    }

    /// Failures that say something about the response, not the peer's reachability, are answered.
    @Test func responseFailuresAreNotRetried() {
        for f in [UpstreamFailure.invalidHeader, .headerTooBig, .protocolSwitch, .tlsSetup, .noPeer] {
            #expect(f.decide(attempt(tries: 5, peers: 5)) == .fail(status: 502), "\(f)")
        }
    }

    /// A POST that may have reached the peer is not sent again; one that never left (connect
    /// failed) is.
    @Test func nonIdempotentAfterSending() {
        for f in [UpstreamFailure.send, .sendTimeout, .read, .readTimeout] {
            #expect(f.decide(attempt(idempotent: false)) == .fail(status: f.status), "\(f)")
        }
        for f in [UpstreamFailure.connect, .connectTimeout, .handshake, .resolve] {
            #expect(f.decide(attempt(idempotent: false)) == .nextPeer, "\(f)")
        }
    }

    /// A pooled connection the peer had closed: once more to the same peer on a new connection,
    /// whatever the method and even with no tries left; never twice, never after response bytes.
    @Test func staleConnectionRetry() {
        #expect(UpstreamFailure.send.decide(attempt(tries: 0, peers: 0, idempotent: false, reused: true)) == .retryStale)
        #expect(UpstreamFailure.read.decide(attempt(tries: 0, peers: 0, idempotent: false, reused: true)) == .retryStale)
        #expect(UpstreamFailure.read.decide(attempt(tries: 0, reused: true, readAny: true)) == .fail(status: 502))
        #expect(UpstreamFailure.read.decide(attempt(tries: 0, reused: true, staleUsed: true)) == .fail(status: 502))
        #expect(UpstreamFailure.read.decide(attempt(tries: 0, replayable: false, reused: true)) == .fail(status: 502))
        #expect(UpstreamFailure.readTimeout.decide(attempt(tries: 0, reused: true)) == .fail(status: 504))
        #expect(UpstreamFailure.send.decide(attempt(tries: 0, reused: false)) == .fail(status: 502))
    }
}
