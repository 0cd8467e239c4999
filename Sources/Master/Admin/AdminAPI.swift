// The Admin API's front door (APISIX's admin/init.lua and the admin `server` block of its nginx
// template): allow-list, CORS and HEAD, the key check, then dispatch to a resource, the plugin
// list or the schema validator.

import Shared
import Worker

/// Answers Admin API requests. Confined to the control process's loop.
final class AdminAPI {
    private let settings: AdminSettings
    private let allowed: [CIDR]?
    /// nil when the store could not be loaded: every resource request then answers 503 with `storeFailure`.
    private let store: (any AdminStore)?
    private let storeFailure: String
    private let plugins: PluginSchemaLookup
    let pluginNames: [String]
    private let committed: () -> Void

    /// - Parameters:
    ///   - store: the `local` store or the etcd provider's; nil with `storeFailure` when it could not be loaded.
    ///   - plugins / pluginNames: the plugin registry (see `PluginCatalog`).
    ///   - committed: runs after each accepted write.
    init(settings: AdminSettings, store: (any AdminStore)?, storeFailure: String = "",
         plugins: @escaping PluginSchemaLookup, pluginNames: [String], committed: @escaping () -> Void) {
        self.settings = settings
        self.allowed = settings.allowAdmin.map { $0.compactMap(CIDR.init) }
        self.store = store
        self.storeFailure = storeFailure
        self.plugins = plugins
        self.pluginNames = pluginNames
        self.committed = committed
    }

    static let prefix = "/apisix/admin"

    /// Answers `request` through `respond`: at once, or when the store's write completes.
    func handle(_ request: AdminRequest, respond: @escaping (AdminResponse) -> Void) {
        // nginx: `location /apisix/admin`, then `allow ...; deny all;`.
        guard request.path == AdminAPI.prefix || request.path.hasPrefix(AdminAPI.prefix + "/") else {
            return respond(AdminResponse.page(404))
        }
        if let allowed {
            guard let peer = request.peer, allowed.contains(where: { $0.contains(peer) }) else {
                return respond(AdminResponse.page(403))
            }
        }
        let enableCORS = settings.enableCORS
        route(request) { response in
            var response = response
            // admin/init.lua sets it before dispatching, so even a 401 carries it.
            if !response.headers.contains(where: { $0.name == "Content-Type" }) {
                response.headers.insert(("Content-Type", "application/json"), at: 0)
            }
            if enableCORS && request.method != "OPTIONS" {
                response.headers += [("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Credentials", "true"),
                                     ("Access-Control-Expose-Headers", "*"), ("Access-Control-Max-Age", "3600")]
            }
            respond(response)
        }
    }

    private func route(_ request: AdminRequest, respond: @escaping (AdminResponse) -> Void) {
        switch immediate(request) {
        case .answer(let response): respond(response)
        case .resource(let descriptor, let store, let body): dispatch(request, descriptor, store, body, respond: respond)
        }
    }

    /// What `immediate` made of a request.
    private enum Routed {
        /// Answered without the store.
        case answer(AdminResponse)
        /// A resource request that passed every check: for the store.
        case resource(ResourceDescriptor, any AdminStore, JSONValue?)
    }

    /// The answer to anything but a valid resource request, which it hands back instead.
    private func immediate(_ request: AdminRequest) -> Routed {
        if request.method == "OPTIONS", settings.enableCORS {
            return .answer(AdminResponse(status: 200, headers: [
                ("Content-Type", "text/plain"), ("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Allow-Methods", "POST, GET, PUT, OPTIONS, DELETE, PATCH"),
                ("Access-Control-Max-Age", "3600"), ("Access-Control-Allow-Headers", "*"),
                ("Access-Control-Allow-Credentials", "true"),
            ]))
        }
        if request.method == "HEAD", request.path == AdminAPI.prefix { return .answer(AdminResponse(status: 200)) }
        let segments = request.path.dropFirst(AdminAPI.prefix.count + 1)
            .split(separator: "/", omittingEmptySubsequences: false).map(String.init)

        if segments == ["plugins", "list"], request.method == "GET" {
            if let refusal = checkKey(request) { return .answer(refusal) }
            return .answer(AdminResponse.json(200, .array(pluginNames.map { .string($0) })))
        }
        if segments.count == 3, segments[0] == "schema", segments[1] == "validate", request.method == "POST" {
            if let refusal = checkKey(request) { return .answer(refusal) }
            return .answer(validate(resource: segments[2], request))
        }
        guard ["GET", "PUT", "POST", "DELETE", "PATCH"].contains(request.method) else { return .answer(AdminResponse.page(404)) }
        if let refusal = checkKey(request) { return .answer(refusal) }
        if let answer = pluginEndpoint(segments, request) { return .answer(answer) }

        let name = segments.first ?? ""
        guard let descriptor = ResourceDescriptor.served[name] else {
            if ResourceDescriptor.notYetSupported.contains(name) { return .answer(AdminResponse.error(400, "\(name) is not supported")) }
            return .answer(AdminResponse.error(404, "Unsupported resource type: \(name)"))
        }
        let body: JSONValue?
        do {
            body = try parseBody(request)
        } catch {
            return .answer(error.response)
        }
        // `?ttl=<seconds>` on PUT, POST and PATCH: the object lapses then (Resource).
        if let ttl = request.query["ttl"], Double(ttl) == nil {
            return .answer(AdminResponse.error(400, "invalid argument ttl: should be a number"))
        }
        guard let store else { return .answer(AdminResponse.error(503, storeFailure)) }
        if let reason = store.unavailableReason { return .answer(AdminResponse.error(503, reason)) }
        return .resource(descriptor, store, body)
    }

    /// A resource request that passed every check of `immediate`.
    private func dispatch(_ request: AdminRequest, _ descriptor: ResourceDescriptor, _ store: any AdminStore,
                          _ body: JSONValue?, respond: @escaping (AdminResponse) -> Void) {
        var segments = request.path.dropFirst(AdminAPI.prefix.count + 1)
            .split(separator: "/", omittingEmptySubsequences: false).map(String.init)[...]
        var descriptor = descriptor
        var idPrefix = ""
        // admin/init.lua: `/consumers/<username>/credentials[/<id>]` is the credentials resource.
        if descriptor.name == "consumers", segments.count >= 3, segments[2] == "credentials", !segments[1].isEmpty {
            descriptor = .credentials
            idPrefix = segments[1] + "/credentials/"
            segments = segments.dropFirst(2)
        }
        let id = segments.count > 1 && !segments[segments.startIndex + 1].isEmpty ? segments[segments.startIndex + 1] : nil
        let subPath = segments.count > 2 ? segments.dropFirst(2).joined(separator: "/") : nil
        // APISIX's PUT/GET/DELETE ignore what follows the id, so `PUT /routes/a/b` (or
        // `/routes/a%2Fb`, decoded first) would write route `a`: refused instead.
        if let subPath, !subPath.isEmpty, request.method != "PATCH", let id {
            return respond(AdminResponse.error(400, "invalid \(descriptor.kind) id [\(id)/\(subPath)]: only PATCH takes a sub path"))
        }
        let resource = Resource(descriptor: descriptor, store: store, plugins: plugins, committed: committed,
                                idPrefix: idPrefix, v2: settings.apiVersion != "v3")
        let version = settings.apiVersion
        resource.handle(method: request.method, id: id, subPath: subPath, body: body, query: request.query) { response in
            var response = response
            if response.status < 300 { response.headers.append(("X-API-VERSION", version)) }
            respond(response)
        }
    }

    /// admin/init.lua `check_token`: `api_key` query argument, then `X-API-KEY` header, then the
    /// `X-API-KEY` cookie; `viewer` keys may only GET. nil lets the request through.
    private func checkKey(_ request: AdminRequest) -> AdminResponse? {
        guard settings.keyRequired, !settings.keys.isEmpty else { return nil }
        func refuse(_ description: String) -> AdminResponse {
            AdminResponse.json(401, .object(["error_msg": "failed to check token", "description": .string(description)]))
        }
        // nginx maps `X_API_KEY` to the same variable (`underscores_in_headers on`).
        guard let token = request.query["api_key"] ?? request.header("x-api-key") ?? request.header("x_api_key")
            ?? request.cookie("X-API-KEY")
        else { return refuse("missing apikey") }
        guard let key = settings.keys.first(where: { $0.key == token }) else { return refuse("wrong apikey") }
        if key.role == .viewer, request.method != "GET" { return refuse("invalid method for role viewer") }
        return nil
    }

    /// The body as JSON (the request's Content-Type is ignored, as in APISIX).
    private func parseBody(_ request: AdminRequest) throws(Refusal) -> JSONValue? {
        if let size = request.oversizedBody {
            throw Refusal(response: AdminResponse.error(400, "invalid request body: request size \(size) is greater than the "
                + "maximum size \(AdminServer.maxBody) allowed"))
        }
        guard let bytes = request.body else { return nil }
        do {
            return try JSONValue.parse(bytes)
        } catch {
            throw Refusal(response: AdminResponse.json(400, .object([
                "error_msg": .string("invalid request body: \(error.message)"),
                "req_body": .string(String(decoding: bytes, as: UTF8.self)),
            ])))
        }
    }

    /// A request answered before it reaches a resource.
    struct Refusal: Error { var response: AdminResponse }

    /// `POST /apisix/admin/schema/validate/<resource>`: the JSON schema alone, message unprefixed.
    private func validate(resource name: String, _ request: AdminRequest) -> AdminResponse {
        guard let descriptor = ResourceDescriptor.served[name] ?? (name == "credentials" ? .credentials : nil) else {
            if ResourceDescriptor.notYetSupported.contains(name) { return AdminResponse.error(400, "\(name) is not supported") }
            return AdminResponse.error(404, "Unsupported resource type: \(name)")
        }
        let body: JSONValue?
        do {
            body = try parseBody(request)
        } catch {
            return error.response
        }
        guard let body else { return AdminResponse.error(400, "missing configurations") }
        if let message = descriptor.schema.firstError(body) { return AdminResponse.error(400, message) }
        return AdminResponse(status: 200)
    }
}
