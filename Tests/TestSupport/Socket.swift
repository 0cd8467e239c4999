#if canImport(Glibc)
import Glibc
#endif

/// Thin, bounded wrappers around POSIX sockets (loopback IPv4 only). Every descriptor is created
/// with `SOCK_CLOEXEC`, so processes spawned by the tests never inherit one; every send uses
/// `MSG_NOSIGNAL`, so a peer that went away gives `EPIPE` instead of killing the test runner.
enum Sock {
    /// A listening TCP socket on `host:port` (port 0 = chosen by the OS); returns it and its port.
    static func listen(host: String = "127.0.0.1", port: Int = 0, backlog: Int32 = 512) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError.system("socket", errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = try address(host: host, port: port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { let e = errno; close(fd); throw TestSupportError.system("bind \(host):\(port)", e) }
        guard Glibc.listen(fd, backlog) == 0 else { let e = errno; close(fd); throw TestSupportError.system("listen", e) }
        return (fd, try localPort(fd))
    }

    /// The local port a socket is bound to.
    static func localPort(_ fd: Int32) throws -> Int {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0 else { throw TestSupportError.system("getsockname", errno) }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// An IPv4 socket address.
    static func address(host: String, port: Int) throws -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            throw TestSupportError.malformed("not an IPv4 address: \(host)")
        }
        return addr
    }

    /// A blocking TCP connection to `host:port`, established within `timeout` seconds.
    static func connect(host: String, port: Int, timeout: Double) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw TestSupportError.system("socket", errno) }
        do {
            var addr = try address(host: host, port: port)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if rc != 0 {
                guard errno == EINPROGRESS else { throw TestSupportError.system("connect \(host):\(port)", errno) }
                guard try poll(fd, events: Int16(POLLOUT), deadline: Deadline(seconds: timeout)) else {
                    throw TestSupportError.timeout("connect to \(host):\(port) within \(timeout) s")
                }
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                guard err == 0 else { throw TestSupportError.system("connect \(host):\(port)", err) }
            }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// Waits until `fd` has one of `events` (or an error/hang-up) before `deadline`; nil waits forever.
    /// Returns false on timeout.
    static func poll(_ fd: Int32, events: Int16, deadline: Deadline?) throws -> Bool {
        while true {
            var p = pollfd(fd: fd, events: events, revents: 0)
            let rc = Glibc.poll(&p, 1, deadline?.remainingMillis ?? -1)
            if rc > 0 { return true }
            if rc == 0 { return false }
            if errno != EINTR { throw TestSupportError.system("poll", errno) }
        }
    }

    /// Sends every byte of `bytes`, each write waiting at most until `deadline` (nil: forever).
    static func sendAll(_ fd: Int32, _ bytes: some Collection<UInt8>, deadline: Deadline? = nil) throws {
        try Array(bytes).withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                if let deadline {
                    guard try poll(fd, events: Int16(POLLOUT), deadline: deadline) else {
                        throw TestSupportError.timeout("sending \(raw.count) bytes (\(off) sent)")
                    }
                }
                let n = send(fd, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN { throw TestSupportError.timeout("sending \(raw.count) bytes (\(off) sent)") }
                    throw TestSupportError.system("send", errno)
                }
                off += n
            }
        }
    }

    /// Sets `SO_LINGER` to zero so that `close` sends a TCP RST instead of a FIN.
    static func setLingerZero(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
    }
}

/// A receive buffer on a socket, with the line/length/EOF reads an HTTP parser needs.
/// Not thread-safe; owned by the one thread that reads the socket.
struct ByteStream {
    /// The socket read from.
    let fd: Int32
    /// Bytes received and not consumed yet are `buffer[position...]`.
    var buffer: [UInt8] = []
    /// Index of the first unconsumed byte.
    var position = 0
    /// True once the peer closed (or reset) the connection.
    var eof = false
    /// Called with every chunk of bytes received from the socket, before parsing.
    var onReceive: ((ArraySlice<UInt8>) -> Void)?
    /// Each read waits at most this long (seconds) for bytes; nil waits until data or EOF.
    var idleTimeout: Double?
    /// The receive buffer `recv` writes into, allocated on first use.
    var scratch: [UInt8] = []

    /// Unconsumed bytes.
    var available: Int { buffer.count - position }

    /// Reads once from the socket, appending to the buffer. Returns false on EOF.
    mutating func fill() throws -> Bool {
        if eof { return false }
        if let idleTimeout {
            guard try Sock.poll(fd, events: Int16(POLLIN), deadline: Deadline(seconds: idleTimeout)) else {
                throw TestSupportError.timeout("no bytes received within \(idleTimeout) s")
            }
        }
        if position > 0 && position * 2 >= buffer.count {
            buffer.removeFirst(position)
            position = 0
        }
        if scratch.isEmpty { scratch = [UInt8](repeating: 0, count: 65536) }
        while true {
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                onReceive?(scratch[0..<n])
                buffer.append(contentsOf: scratch[0..<n])
                return true
            }
            if n == 0 { eof = true; return false }
            if errno == EINTR { continue }
            if errno == ECONNRESET || errno == EPIPE || errno == EBADF || errno == ENOTCONN { eof = true; return false }
            if errno == EAGAIN { throw TestSupportError.timeout("no bytes received (socket timeout)") }
            throw TestSupportError.system("recv", errno)
        }
    }

    /// Reads a line ending in LF (a preceding CR is dropped). Returns nil on EOF before any byte of
    /// the line; throws on EOF mid-line or when the line exceeds `limit` bytes.
    mutating func readLine(limit: Int = 65536) throws -> [UInt8]? {
        var scanFrom = position
        while true {
            if let lf = buffer[scanFrom...].firstIndex(of: 10) {
                if lf - position > limit { throw TestSupportError.malformed("line longer than \(limit) bytes") }
                var end = lf
                if end > position && buffer[end - 1] == 13 { end -= 1 }
                let line = Array(buffer[position..<end])
                position = lf + 1
                return line
            }
            if available > limit { throw TestSupportError.malformed("line longer than \(limit) bytes") }
            scanFrom = buffer.count
            let before = position
            guard try fill() else {
                if available == 0 { return nil }
                throw TestSupportError.closed("in the middle of a line")
            }
            scanFrom -= before - position  // fill may have compacted the buffer
        }
    }

    /// Reads exactly `count` bytes; throws if the peer closes first.
    mutating func readExactly(_ count: Int) throws -> [UInt8] {
        while available < count {
            guard try fill() else { throw TestSupportError.closed("after \(available) of \(count) bytes") }
        }
        let out = Array(buffer[position..<position + count])
        position += count
        return out
    }

    /// Reads until the peer closes the connection and returns everything not consumed yet.
    mutating func readToEOF() throws -> [UInt8] {
        while try fill() {}
        let out = Array(buffer[position...])
        position = buffer.count
        return out
    }
}
