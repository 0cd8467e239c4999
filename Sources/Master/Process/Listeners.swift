#if canImport(Glibc)
import Glibc
#endif
import Shared

/// The master's listening sockets: one per worker slot and `node_listen` address, all in one
/// `SO_REUSEPORT` group per address so the kernel spreads connections evenly over the slots
/// (nginx's `listen ... reuseport`). The master keeps every socket, so a respawned worker takes
/// over its slot's socket and the connections queued in it, and a new generation after a reload
/// inherits the same sockets for the same slots (nothing queued is lost).
///
/// Confined to the master process.
final class Listeners {
    /// A socket's identity: which slot accepts on it, for which address.
    struct Key: Hashable {
        var slot: Int
        var address: GatewayConfig.ListenAddress
    }

    private(set) var sockets: [Key: Int32] = [:]

    /// nginx's `NGX_LISTEN_BACKLOG` on Linux.
    static let backlog: Int32 = 511

    /// Every descriptor the master holds, for children to know what to close.
    var allDescriptors: [Int32] { Array(sockets.values) }

    /// The sockets of `slot` for `addresses`, opening the missing ones. On failure the sockets
    /// opened by this call are closed again and the message names the failing call.
    func ensure(slots: Int, addresses: [GatewayConfig.ListenAddress]) -> String? {
        var opened: [Key] = []
        // An address none of our sockets holds yet must be free: SO_REUSEPORT would otherwise let
        // us join another process's group (a second Sluice on the same port took two thirds of its
        // traffic). A bind without SO_REUSEPORT fails if anyone listens there, as nginx's bind does.
        for address in addresses where !sockets.keys.contains(where: { $0.address == address }) {
            if let failure = Listeners.probe(address) { return failure }
        }
        for slot in 0..<slots {
            for address in addresses {
                let key = Key(slot: slot, address: address)
                if sockets[key] != nil { continue }
                switch Listeners.open(address) {
                case .success(let fd):
                    sockets[key] = fd
                    opened.append(key)
                case .failure(let failure):
                    for key in opened { close(key) }
                    return failure.message
                }
            }
        }
        return nil
    }

    /// The (fd, address) pairs of one slot, in `addresses` order.
    func descriptors(slot: Int, addresses: [GatewayConfig.ListenAddress])
        -> [(fd: Int32, address: GatewayConfig.ListenAddress)]
    {
        addresses.compactMap { address in
            sockets[Key(slot: slot, address: address)].map { (fd: $0, address: address) }
        }
    }

    /// Closes the master's copy of every socket not in `keeping`. A socket nobody accepts on
    /// still receives its share of new connections (SO_REUSEPORT), which would then wait there
    /// until reset: so the master lets go as soon as the slot is not served by the current
    /// generation, and the socket lives on only while a retiring worker still holds it.
    func closeAll(except keeping: Set<Key>) {
        for key in sockets.keys where !keeping.contains(key) { close(key) }
    }

    /// Closes every socket (graceful stop: no new connections are queued to the master's copies).
    func closeAll() {
        closeAll(except: [])
    }

    private func close(_ key: Key) {
        if let fd = sockets.removeValue(forKey: key) { Glibc.close(fd) }
    }

    struct OpenFailure: Error { var message: String }

    /// nil when nobody listens on `address` (a bind without SO_REUSEPORT succeeds), else nginx's
    /// `bind() to <address> failed (98: Address already in use)`.
    static func probe(_ address: GatewayConfig.ListenAddress) -> String? {
        switch open(address, reusePort: false) {
        case .success(let fd):
            Glibc.close(fd)
            return nil
        case .failure(let failure):
            return failure.message
        }
    }

    /// `ip:port`, IPv6 in brackets, as nginx prints listen addresses.
    static func text(_ address: GatewayConfig.ListenAddress) -> String {
        address.ip.contains(":") ? "[\(address.ip)]:\(address.port)" : "\(address.ip):\(address.port)"
    }

    /// socket + SO_REUSEADDR + SO_REUSEPORT + bind + listen(511), non-blocking and close-on-exec.
    /// `reusePort: false` opens a probe that only binds (no listen): it fails where anyone listens.
    static func open(_ address: GatewayConfig.ListenAddress, reusePort: Bool = true) -> Result<Int32, OpenFailure> {
        let place = text(address)
        var ip = address.ip
        if ip.hasPrefix("["), ip.hasSuffix("]") { ip = String(ip.dropFirst().dropLast()) }
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        let family: Int32
        if inet_pton(AF_INET, ip, &v4.sin_addr) == 1 {
            family = AF_INET
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(truncatingIfNeeded: address.port).bigEndian)
        } else if inet_pton(AF_INET6, ip, &v6.sin6_addr) == 1 {
            family = AF_INET6
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(truncatingIfNeeded: address.port).bigEndian)
        } else {
            return .failure(OpenFailure(message: "invalid listen address \"\(place)\""))
        }
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = socket(family, type, 0)
        if fd < 0 { return .failure(OpenFailure(message: "socket() \(place) failed \(errnoText(errno))")) }
        func fail(_ call: String) -> Result<Int32, OpenFailure> {
            let errorNumber = errno
            Glibc.close(fd)
            return .failure(OpenFailure(message: "\(call) \(place) failed \(errnoText(errorNumber))"))
        }
        var on: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, size) != 0 { return fail("setsockopt(SO_REUSEADDR)") }
        if reusePort, setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, size) != 0 { return fail("setsockopt(SO_REUSEPORT)") }
        let bound: Int32
        if family == AF_INET {
            bound = withUnsafePointer(to: &v4) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        } else {
            // nginx's default `ipv6only=on`: an IPv6 wildcard does not also take IPv4.
            if setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &on, size) != 0 { return fail("setsockopt(IPV6_V6ONLY)") }
            bound = withUnsafePointer(to: &v6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        if bound != 0 { return fail("bind() to") }
        if !reusePort { return .success(fd) }
        if listen(fd, backlog) != 0 { return fail("listen() to") }
        return .success(fd)
    }
}
