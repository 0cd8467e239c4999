#if canImport(Glibc)
import Glibc
#endif

/// How `readAvailable` stopped.
enum ReadEnd: Equatable {
    /// Nothing more for now (EAGAIN, or a short read).
    case wouldBlock
    /// The peer closed its side.
    case endOfStream
    /// read(2) failed with this errno.
    case failed(Int32)
}

/// Appends what the non-blocking `fd` has now to `input`, in 64 KiB reads, for the control
/// process's own connections (Admin API clients, etcd): reads until a short read or EAGAIN.
func readAvailable(_ fd: Int32, into input: inout [UInt8]) -> ReadEnd {
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count > 0 {
            input.append(contentsOf: chunk[0..<count])
            if count < chunk.count { return .wouldBlock }
            continue
        }
        if count == 0 { return .endOfStream }
        let err = errno
        if err == EINTR { continue }
        if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
        return .failed(err)
    }
}
