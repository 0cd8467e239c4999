// TLS to upstreams and functions with OpenSSL on the worker's own non-blocking sockets (no
// bufferevents: the same read/write path as plain connections). One SSL_CTX per worker, made
// after fork; system CAs (`SSL_CERT_FILE` / `SSL_CERT_DIR` override them, as OpenSSL documents).
import CLibevent
#if canImport(Glibc)
import Glibc
#endif

/// The worker's client TLS context.
package final class TLSClientContext {
    package let ctx: OpaquePointer

    package init?() {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { return nil }
        self.ctx = ctx
        SSL_CTX_set_default_verify_paths(ctx)
        _ = sluice_ssl_ctx_set_min_proto_version(ctx, TLS1_2_VERSION)
        // Partial writes from a buffer that moves between calls: our output buffer compacts.
        SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), nil)
    }

    deinit { SSL_CTX_free(ctx) }
}

/// How a TLS handshake step ended.
package enum TLSHandshakeStep {
    case done
    case wantRead
    case wantWrite
    /// OpenSSL's reason, e.g. `certificate verify failed: self-signed certificate`.
    case failed(String)
}

/// One connection's TLS state.
package struct TLSSession {
    package let ssl: OpaquePointer
    package let verify: Bool

    /// Starts a client session on a connected socket: SNI for host names, and with `verify` the
    /// chain against the CAs and the name (or IP) against the certificate.
    package init?(context: TLSClientContext, fd: Int32, serverName: String, verify: Bool) {
        guard let ssl = SSL_new(context.ctx) else { return nil }
        self.ssl = ssl
        self.verify = verify
        SSL_set_fd(ssl, fd)
        var v4 = in_addr(), v6 = in6_addr()
        let isIP = inet_pton(AF_INET, serverName, &v4) == 1 || inet_pton(AF_INET6, serverName, &v6) == 1
        if !isIP { _ = sluice_ssl_set_tlsext_host_name(ssl, serverName) }
        if verify {
            SSL_set_verify(ssl, SSL_VERIFY_PEER, nil)
            if isIP {
                _ = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName)
            } else {
                _ = SSL_set1_host(ssl, serverName)
            }
        } else {
            SSL_set_verify(ssl, SSL_VERIFY_NONE, nil)
        }
        SSL_set_connect_state(ssl)
    }

    package func free() { SSL_free(ssl) }

    package func handshake() -> TLSHandshakeStep {
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 { return .done }
        let err = SSL_get_error(ssl, rc)
        if err == SSL_ERROR_WANT_READ { return .wantRead }
        if err == SSL_ERROR_WANT_WRITE { return .wantWrite }
        return .failed(failureReason(rc: rc, err: err))
    }

    private func failureReason(rc: Int32, err: Int32) -> String {
        if verify {
            let result = SSL_get_verify_result(ssl)
            if result != X509_V_OK {
                // The verify result names the cause better than the error queue (18 = self-signed,
                // 62 = host name mismatch).
                return "certificate verify failed: \(String(cString: X509_verify_cert_error_string(result)))"
            }
        }
        let code = ERR_get_error()
        if code != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            let text = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            return "handshake failed: \(String(decoding: text, as: UTF8.self))"
        }
        if err == SSL_ERROR_SYSCALL {
            let e = errno
            return rc == 0 ? "handshake failed: connection closed by peer" : "handshake failed: \(e): \(String(cString: strerror(e)))"
        }
        return "handshake failed (SSL error \(err))"
    }

    /// Reads into `buffer` until the socket has nothing more (TLS records may hold more than one
    /// read's worth, and epoll does not report bytes OpenSSL already buffered). Same results as
    /// `ByteBuffer.read(from:)`: bytes read, 0 at the end of the stream, -1 with errno, -2 when
    /// the buffer is full.
    package func read(into buffer: inout ByteBuffer) -> Int {
        var total = 0
        while true {
            if buffer.freeSpace < 4096 { _ = buffer.reserve(4096) }
            let space = buffer.freeSpace
            if space == 0 { return total > 0 ? total : -2 }
            ERR_clear_error()
            let n = SSL_read(ssl, buffer.base + buffer.writeIndex, Int32(min(space, Int(Int32.max))))
            if n > 0 {
                buffer.writeIndex += Int(n)
                total += Int(n)
                continue
            }
            let err = SSL_get_error(ssl, n)
            if err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE {
                if total > 0 { return total }
                errno = EAGAIN
                return -1
            }
            if err == SSL_ERROR_ZERO_RETURN { return total > 0 ? total : 0 }
            if total > 0 { return total }
            if err == SSL_ERROR_SYSCALL && errno == 0 { return 0 }
            if err != SSL_ERROR_SYSCALL { errno = EPROTO }
            return -1
        }
    }

    /// Whether OpenSSL holds decrypted bytes not yet read.
    package var hasPending: Bool { SSL_pending(ssl) > 0 }

    /// Writes the buffer's pending bytes. false on an error; stops early (true) when the socket
    /// is full.
    package func write(from buffer: inout ByteBuffer) -> Bool {
        while !buffer.isEmpty {
            ERR_clear_error()
            let n = SSL_write(ssl, buffer.base + buffer.readIndex, Int32(min(buffer.count, Int(Int32.max))))
            if n > 0 { buffer.consume(Int(n)); continue }
            let err = SSL_get_error(ssl, n)
            if err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ {
                errno = EAGAIN
                return true
            }
            if err != SSL_ERROR_SYSCALL { errno = EPROTO }
            return false
        }
        return true
    }
}
