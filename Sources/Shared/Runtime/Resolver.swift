// Host names of upstream nodes and function URIs, resolved without blocking the worker: libevent's
// evdns (which also reads /etc/hosts), cached for `ttl` seconds, one query in flight per name
// (nginx's `resolver` with `valid=`).
import CLibevent
#if canImport(Glibc)
import Glibc
#endif

/// The worker's resolver. Confined to the worker's loop.
package final class Resolver {
    /// The outcome of a lookup: an address (port 0; the caller sets its own) or the error text.
    package enum Answer {
        case address(SocketAddress)
        case failure(String)
    }

    private let dns: OpaquePointer?
    /// Seconds an answer is reused.
    package let ttl: Int64
    private var cache: [String: (answer: Answer, expiresMs: Int64)] = [:]
    private var waiting: [String: [(Answer) -> Void]] = [:]

    package init(base: OpaquePointer, ttl: Int64 = 30) {
        self.ttl = ttl
        var dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE)
        if dns == nil {
            // No usable resolv.conf (a machine without network): /etc/hosts still answers.
            dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE)
        }
        if let dns { evdns_base_load_hosts(dns, nil) }
        self.dns = dns
    }

    /// The cached answer for `host`, if fresh.
    package func cached(_ host: String) -> Answer? {
        guard let entry = cache[host], entry.expiresMs > monotonicMilliseconds() else { return nil }
        return entry.answer
    }

    /// Resolves `host`, calling `done` on the loop (at once when cached).
    package func resolve(_ host: String, _ done: @escaping (Answer) -> Void) {
        if let answer = cached(host) { done(answer); return }
        if waiting[host] != nil {
            waiting[host]!.append(done)
            return
        }
        guard let dns else {
            done(.failure("no resolver"))
            return
        }
        waiting[host] = [done]
        let lookup = Unmanaged.passRetained(PendingLookup(resolver: self, host: host)).toOpaque()
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        // May call back before returning (hosts file, numeric names).
        _ = evdns_getaddrinfo(dns, host, nil, &hints, resolverCallback, lookup)
    }

    fileprivate func finish(host: String, result: Int32, info: UnsafeMutablePointer<addrinfo>?) {
        let answer: Answer
        if result == 0, let info, let found = Resolver.pick(info) {
            answer = .address(found)
        } else {
            answer = .failure(String(cString: evutil_gai_strerror(result)))
        }
        if let info { evutil_freeaddrinfo(info) }
        cache[host] = (answer, monotonicMilliseconds() + ttl * 1000)
        let callbacks = waiting.removeValue(forKey: host) ?? []
        for callback in callbacks { callback(answer) }
    }

    /// The first IPv4 address, else the first address.
    private static func pick(_ info: UnsafeMutablePointer<addrinfo>) -> SocketAddress? {
        var chosen: UnsafeMutablePointer<addrinfo>? = nil
        var cursor: UnsafeMutablePointer<addrinfo>? = info
        while let c = cursor {
            if chosen == nil { chosen = c }
            if c.pointee.ai_family == AF_INET { chosen = c; break }
            cursor = c.pointee.ai_next
        }
        guard let c = chosen, let addr = c.pointee.ai_addr else { return nil }
        var out = SocketAddress()
        withUnsafeMutableBytes(of: &out.storage) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: Int(c.pointee.ai_addrlen)))
        }
        out.length = socklen_t(c.pointee.ai_addrlen)
        return out
    }
}

private final class PendingLookup {
    unowned let resolver: Resolver
    let host: String
    init(resolver: Resolver, host: String) { self.resolver = resolver; self.host = host }
}

private func resolverCallback(_ result: Int32, _ info: UnsafeMutablePointer<addrinfo>?, _ arg: UnsafeMutableRawPointer?) {
    let lookup = Unmanaged<PendingLookup>.fromOpaque(arg!).takeRetainedValue()
    lookup.resolver.finish(host: lookup.host, result: result, info: info)
}

extension SocketAddress {
    /// This address with another port.
    package func with(port: Int) -> SocketAddress {
        var copy = self
        withUnsafeMutableBytes(of: &copy.storage) { raw in
            raw.storeBytes(of: UInt16(port).bigEndian, toByteOffset: 2, as: UInt16.self)
        }
        return copy
    }
}
