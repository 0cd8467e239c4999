// etcd's v3 API through its JSON gateway (`POST /v3/kv/range`, `/v3/kv/put`, `/v3/kv/deleterange`,
// `/v3/kv/txn`, `/v3/watch`, `/v3/auth/authenticate`): keys and values base64, 64-bit numbers
// as strings. Requests go to the `host` list in turn: a connect failure moves to the next
// endpoint, which then stays the preferred one.

#if canImport(Glibc)
import Glibc
#endif
import Shared
import Worker

/// The etcd client of the control process. Confined to its loop.
final class EtcdClient {
    struct Endpoint {
        var url: String
        var host: String
        var port: Int
        var name: String { "\(host):\(port)" }
    }

    let settings: EtcdSettings
    let endpoints: [Endpoint]
    private let base: OpaquePointer
    private var resolver: Resolver?
    /// The endpoint tried first.
    private var preferred: Int
    /// The authentication token (`user`/`password` set), once obtained.
    private var token: String?

    init(base: OpaquePointer, settings: EtcdSettings) {
        self.base = base
        self.settings = settings
        endpoints = settings.hosts.compactMap { url in
            EtcdSettings.endpoint(url).map { Endpoint(url: url, host: $0.host, port: $0.port) }
        }
        preferred = endpoints.isEmpty ? 0 : Int.random(in: 0..<endpoints.count)
    }

    /// Moves the preference to the next endpoint (after a broken watch).
    func rotate() {
        if !endpoints.isEmpty { preferred = (preferred + 1) % endpoints.count }
    }

    // MARK: - Keys

    /// `key` as etcd's JSON gateway wants it.
    static func key(_ text: String) -> JSONValue { .string(Base64.encodedText(text.utf8)) }

    /// The end of the range of every key starting with `prefix` (its last byte plus one).
    static func rangeEnd(_ prefix: String) -> JSONValue {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return .string(Base64.encodedText(bytes))
            }
            bytes.removeLast()
        }
        return .string(Base64.encodedText([0]))
    }

    /// A 64-bit number of the gateway's JSON (a string), or a plain number.
    static func int(_ value: JSONValue?) -> Int? {
        switch value {
        case .string(let text)?: Int(text)
        case .number?: value?.intValue
        default: nil
        }
    }

    // MARK: - Calls

    /// `POST /v3/<path>` with `body`; the parsed answer, or why there is none. A connect failure
    /// tries the next endpoint (each once); an expired token is renewed once.
    func call(_ path: String, _ body: JSONValue, done: @escaping (Result<JSONValue, EtcdError>) -> Void) {
        authenticated { [weak self] failure in
            guard let self else { return }
            if let failure { return done(.failure(failure)) }
            self.attempt(path, body, endpointIndex: self.preferred, triesLeft: self.endpoints.count, renewed: false, done: done)
        }
    }

    private func attempt(_ path: String, _ body: JSONValue, endpointIndex: Int, triesLeft: Int, renewed: Bool,
                         done: @escaping (Result<JSONValue, EtcdError>) -> Void) {
        guard !endpoints.isEmpty else { return done(.failure(EtcdError("no etcd endpoint configured"))) }
        let index = endpointIndex % endpoints.count
        exchange(endpoints[index], path: "/v3/" + path, body: body.jsonBytes, onLine: nil) { [weak self] result in
            guard let self else { return }
            switch result {
            case .failure(let error):
                if error.isConnectFailure, triesLeft > 1 {
                    return self.attempt(path, body, endpointIndex: index + 1, triesLeft: triesLeft - 1, renewed: renewed, done: done)
                }
                done(.failure(error))
            case .success(let response):
                self.preferred = index
                let json = (try? JSONValue.parse(response.body)) ?? .null
                if response.status == 200 { return done(.success(json)) }
                let message = json["message"]?.stringValue ?? json["error"]?.stringValue
                    ?? String(decoding: response.body.prefix(200), as: UTF8.self)
                if !renewed, self.settings.user != nil, message.contains("auth token") || message.contains("authentication") {
                    self.token = nil
                    return self.authenticated { failure in
                        if let failure { return done(.failure(failure)) }
                        self.attempt(path, body, endpointIndex: index, triesLeft: 1, renewed: true, done: done)
                    }
                }
                done(.failure(EtcdError("etcd \(self.endpoints[index].name) answered \(response.status): \(message)")))
            }
        }
    }

    /// Starts a watch (`POST /v3/watch` with `request`) on the preferred endpoint: `onMessage`
    /// gets each message of the stream, `ended` once when it stops (never after `cancel()`).
    func watch(_ request: JSONValue, onMessage: @escaping (JSONValue) -> Void,
               ended: @escaping (EtcdError) -> Void) -> WatchHandle {
        let handle = WatchHandle()
        authenticated { [weak self, weak handle] failure in
            guard let self, let handle, !handle.cancelled else { return }
            if let failure { return ended(failure) }
            guard !self.endpoints.isEmpty else { return ended(EtcdError("no etcd endpoint configured")) }
            let endpoint = self.endpoints[self.preferred % self.endpoints.count]
            self.exchange(endpoint, path: "/v3/watch", body: request.jsonBytes, onLine: { line in
                guard let message = try? JSONValue.parse(line) else { return }
                onMessage(message)
            }, started: { handle.exchange = $0 }) { result in
                guard !handle.cancelled else { return }
                switch result {
                case .failure(let error): ended(error)
                case .success(let response):
                    let json = (try? JSONValue.parse(response.body)) ?? .null
                    let message = json["message"]?.stringValue ?? json["error"]?.stringValue ?? "the stream ended"
                    ended(EtcdError("etcd \(endpoint.name) watch: \(response.status == 200 ? "the stream ended" : message)"))
                }
            }
        }
        return handle
    }

    /// A running watch.
    final class WatchHandle {
        fileprivate var exchange: EtcdExchange?
        fileprivate(set) var cancelled = false
        func cancel() {
            cancelled = true
            exchange?.cancel()
            exchange = nil
        }
    }

    /// Obtains a token first when `user`/`password` are set and none is held; `next(nil)` then.
    private func authenticated(_ next: @escaping (EtcdError?) -> Void) {
        guard let user = settings.user, let password = settings.password, token == nil else { return next(nil) }
        let body: JSONValue = .object(["name": .string(user), "password": .string(password)])
        attempt("auth/authenticate", body, endpointIndex: preferred, triesLeft: endpoints.count, renewed: true) { [weak self] result in
            switch result {
            case .failure(let error): next(EtcdError("etcd authentication failed: \(error.message)"))
            case .success(let json):
                guard let token = json["token"]?.stringValue else { return next(EtcdError("etcd authentication failed: no token")) }
                self?.token = token
                next(nil)
            }
        }
    }

    private func exchange(_ endpoint: Endpoint, path: String, body: [UInt8], onLine: (([UInt8]) -> Void)?,
                          started: ((EtcdExchange) -> Void)? = nil,
                          completion: @escaping (Result<EtcdHTTPResponse, EtcdError>) -> Void) {
        var headers: [(String, String)] = []
        if let token { headers.append(("Authorization", token)) }
        let start = { [base, settings] (address: SocketAddress) in
            let exchange = EtcdExchange(base: base, address: address, endpoint: endpoint.name, path: path, body: body,
                                        headers: headers, timeout: settings.timeout, onLine: onLine, completion: completion)
            started?(exchange)
        }
        if let address = SocketAddress(numericHost: endpoint.host, port: endpoint.port) { return start(address) }
        if resolver == nil { resolver = Resolver(base: base) }
        resolver!.resolve(endpoint.host) { answer in
            switch answer {
            case .failure(let reason):
                completion(.failure(EtcdError("connect() to \(endpoint.name) failed: cannot resolve \(endpoint.host): \(reason)")))
            case .address(var address):
                address = SocketAddress(numericHost: address.hostText, port: endpoint.port) ?? address
                start(address)
            }
        }
    }
}

extension EtcdError {
    /// Whether nothing reached the endpoint (safe to try another one).
    var isConnectFailure: Bool { message.hasPrefix("connect() to") }
}
