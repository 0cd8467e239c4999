// Thin syscall wrappers for the data plane: non-blocking sockets, connect with nginx's small
// vocabulary of outcomes (ngx_event_connect.c), peer addresses as text.
package import CLibevent
#if canImport(Glibc)
package import Glibc
#endif

/// What a non-blocking connect did (nginx: NGX_OK / NGX_AGAIN / NGX_DECLINED / NGX_ERROR).
package enum ConnectOutcome {
    case connected(Int32)
    case inProgress(Int32)
    /// This peer refused or is unreachable: try the next one. Carries errno.
    case failed(Int32)
}

package enum Socket {
    /// Starts a non-blocking, close-on-exec TCP connect with TCP_NODELAY.
    package static func connect(to address: SocketAddress) -> ConnectOutcome {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return .failed(errno) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = address.storage
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, address.length) }
        }
        if rc == 0 { return .connected(fd) }
        let err = errno
        if err == EINPROGRESS || err == EINTR { return .inProgress(fd) }
        close(fd)
        return .failed(err)
    }

    /// The pending error of a socket whose connect finished (0 = connected).
    package static func pendingError(_ fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 { return errno }
        return err
    }

    /// Bytes received and not read yet (FIONREAD); 0 on error.
    package static func pendingBytes(_ fd: Int32) -> Int32 {
        var n: Int32 = 0
        if ioctl(fd, UInt(FIONREAD), &n) < 0 { return 0 }
        return n
    }

    /// Accepts one connection as non-blocking and close-on-exec; -1 with errno set when none.
    @inline(__always)
    package static func accept(_ listener: Int32, into address: inout SocketAddress) -> Int32 {
        address.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutablePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sluice_accept4(listener, $0, &address.length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            }
        }
    }

    package static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
