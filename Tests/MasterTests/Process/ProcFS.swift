#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Shared
import TestSupport

/// What `/proc` says about the gateway's processes: their descriptors and the TCP sockets behind
/// them. A socket is identified by its inode (`socket:[INODE]` in `/proc/PID/fd`, the `inode`
/// column of `/proc/net/tcp`), which is the same in every process holding it.
enum ProcFS {
    /// One open descriptor of a process.
    struct Descriptor: CustomStringConvertible {
        var fd: Int32
        /// The `/proc/PID/fd/N` link: a path, `socket:[123]`, `pipe:[456]`, `anon_inode:[eventpoll]`.
        var target: String

        /// The socket inode when the descriptor is a socket.
        var socketInode: UInt64? {
            guard target.hasPrefix("socket:["), target.hasSuffix("]") else { return nil }
            return UInt64(target.dropFirst("socket:[".count).dropLast())
        }

        var description: String { "\(fd) -> \(target)" }
    }

    /// Every open descriptor of `pid`, by number; empty if the process is gone.
    static func descriptors(of pid: Int32) -> [Descriptor] {
        let directory = "/proc/\(pid)/fd"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.compactMap { Int32($0) }.sorted().compactMap { fd in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(fd)")
            else { return nil }
            return Descriptor(fd: fd, target: target)
        }
    }

    /// The socket inodes `pid` holds.
    static func socketInodes(of pid: Int32) -> Set<UInt64> {
        Set(descriptors(of: pid).compactMap(\.socketInode))
    }

    /// One row of `/proc/net/tcp` or `/proc/net/tcp6`.
    struct TCPSocket {
        var localPort: Int
        var remotePort: Int
        /// The kernel's state number: 0x01 established, 0x0A listen.
        var state: Int
        var inode: UInt64

        var isListening: Bool { state == 0x0A }
        var isEstablished: Bool { state == 0x01 }
    }

    /// Every TCP socket of this network namespace.
    static func tcpSockets() -> [TCPSocket] {
        var sockets: [TCPSocket] = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = readWhole(table) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 9,
                      let local = fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) }),
                      let remote = fields[2].split(separator: ":").last.flatMap({ Int($0, radix: 16) }),
                      let state = Int(fields[3], radix: 16),
                      let inode = UInt64(fields[9])
                else { continue }
                sockets.append(TCPSocket(localPort: local, remotePort: remote, state: state, inode: inode))
            }
        }
        return sockets
    }

    /// The whole of a `/proc` file: their size reads as 0, and one `read` returns at most a page,
    /// so read until end of file.
    static func readWhole(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { bytes += chunk[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Inodes of the sockets listening on `port`.
    static func listeningInodes(port: Int) -> Set<UInt64> {
        Set(tcpSockets().filter { $0.isListening && $0.localPort == port }.map(\.inode))
    }

    /// Inodes of every listening TCP socket.
    static func allListeningInodes() -> Set<UInt64> {
        Set(tcpSockets().filter(\.isListening).map(\.inode))
    }

    /// The process among `candidates` holding the server side of the connection from local port
    /// `clientPort` to `serverPort`: the worker that accepted it. Nil when none does (yet).
    static func holder(ofConnectionFrom clientPort: Int, to serverPort: Int, among candidates: [Int32]) -> Int32? {
        let inodes = Set(tcpSockets()
            .filter { $0.localPort == serverPort && $0.remotePort == clientPort && $0.isEstablished }
            .map(\.inode))
        guard !inodes.isEmpty else { return nil }
        return candidates.first { !socketInodes(of: $0).isDisjoint(with: inodes) }
    }
}

extension SluiceProcess {
    /// The listening sockets (inodes) each live worker holds, by pid.
    func workerListeners() -> [Int32: Set<UInt64>] {
        let listening = ProcFS.allListeningInodes()
        var result: [Int32: Set<UInt64>] = [:]
        for worker in workerPids { result[worker] = ProcFS.socketInodes(of: worker).intersection(listening) }
        return result
    }

    /// `GET path` on a fresh keep-alive connection; returns the response and the worker that
    /// accepted the connection (found while the connection is still open).
    func requestNoting(path: String) throws -> (response: TestHTTPResponse, worker: Int32?) {
        let client = try HTTPClient(port: proxyPort)
        defer { client.close() }
        try client.sendRequest(path: path)
        let response = try client.readResponse()
        let worker = ProcFS.holder(ofConnectionFrom: client.localPort, to: proxyPort, among: workerPids)
        return (response, worker)
    }

    /// Sends `GET path` on fresh connections until every worker in `workers` has answered at
    /// least `minimum` requests in all (at most `limit`). Returns every status and who answered.
    func requestFromEveryWorker(path: String, workers: [Int32], minimum: Int = 20, limit: Int = 100)
        throws -> (statuses: [Int], answeredBy: Set<Int32>)
    {
        var statuses: [Int] = []
        var answeredBy = Set<Int32>()
        while statuses.count < limit && (statuses.count < minimum || !answeredBy.isSuperset(of: workers)) {
            let (response, worker) = try requestNoting(path: path)
            statuses.append(response.status)
            if let worker { answeredBy.insert(worker) }
        }
        return (statuses, answeredBy)
    }

    /// The generation of the snapshot in `data/`, nil when there is none.
    var snapshotGeneration: Int? {
        (try? SnapshotFile.read(path: SnapshotFile.path(prefix: prefix))).map { Int($0.generation) }
    }

    /// Waits until every live worker has logged that it applied snapshot `generation` (the worker
    /// logs `configuration generation N applied` at info level).
    func waitForWorkersToApply(generation: Int, timeout: Double = 10) -> Bool {
        waitUntil(timeout: timeout) {
            let log = errorLog
            return workerPids.allSatisfy { log.contains("\($0)#0: configuration generation \(generation) applied") }
        }
    }
}

/// An `apisix.yaml` with one route per path, all proxying to `upstream`.
func apisixYAML(routes paths: [String], upstream: TestUpstream) -> String {
    var text = "routes:\n"
    for (index, path) in paths.enumerated() {
        text += """
              - id: \(index + 1)
                uri: \(path)
                upstream:
                  nodes:
                    "\(upstream.address)": 1
                  type: roundrobin

            """
    }
    return text + "#END\n"
}

/// Sets the soft `RLIMIT_NOFILE` of another process (its children inherit it at fork); the hard
/// limit stays. Returns the previous soft limit. `prlimit(2)` through `dlsym`: glibc declares
/// it only under `_GNU_SOURCE`, which Swift's Glibc module does not show.
func setOpenFileLimit(of pid: Int32, soft: UInt) throws -> UInt {
    typealias Prlimit = @convention(c) (pid_t, Int32, UnsafePointer<rlimit>?, UnsafeMutablePointer<rlimit>?) -> Int32
    guard let symbol = dlsym(nil, "prlimit") else { throw TestSupportError.process("no prlimit in libc") }
    let prlimit = unsafeBitCast(symbol, to: Prlimit.self)
    let resource = Int32(RLIMIT_NOFILE.rawValue)
    var old = rlimit()
    guard prlimit(pid, resource, nil, &old) == 0 else { throw TestSupportError.system("prlimit(\(pid))", errno) }
    var new = old
    new.rlim_cur = rlim_t(soft)
    guard prlimit(pid, resource, &new, nil) == 0 else { throw TestSupportError.system("prlimit(\(pid))", errno) }
    return UInt(old.rlim_cur)
}

/// `/proc/PID/comm` (the name set by `prctl(PR_SET_NAME)`) without its newline; "" if gone.
func processName(_ pid: Int32) -> String {
    (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
}

/// A pid that belongs to no process: a child's, already reaped.
func reapedPid() throws -> Int32 {
    var pid: Int32 = 0
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
    defer { free(argv[0]) }
    let rc = posix_spawn(&pid, "/bin/true", nil, nil, argv, environ)
    guard rc == 0 else { throw TestSupportError.system("posix_spawn /bin/true", rc) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return pid
}
