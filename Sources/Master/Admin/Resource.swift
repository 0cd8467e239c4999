// The generic Admin API resource (APISIX's admin/resource.lua, core/etcd.lua's response shapes,
// admin/utils.lua's timestamps, v3_adapter.lua's list paging and filters), for any descriptor.

#if canImport(Glibc)
import Glibc
#endif
import Shared

/// GET / PUT / POST / PATCH / DELETE of one resource type against the store.
struct Resource {
    let descriptor: ResourceDescriptor
    let store: any AdminStore
    let plugins: PluginSchemaLookup
    /// Called after every commit, to publish the new state.
    let committed: () -> Void
    /// What turns a URL id into the store's: `jack/credentials/` for the credentials of consumer
    /// `jack` (stored beside it, as etcd keys them); empty for every other resource.
    var idPrefix = ""
    /// `admin_api_version` other than v3: APISIX's v2 bodies (Resource+v2.swift).
    var v2 = false

    private var environment: CheckEnvironment { CheckEnvironment(plugins: plugins, store: store) }
    /// The store section: `consumers` for credentials too.
    private var section: String { descriptor.section ?? descriptor.name }

    /// `/apisix/<section>/<store id>`: the key APISIX shows.
    private func key(_ storeId: String) -> String { "/apisix/\(section)/\(storeId)" }

    /// Whether the store id `storeId` of `section` is one of this resource's: a consumer's
    /// credentials are not consumers.
    private func isMine(_ storeId: String) -> Bool {
        guard storeId.hasPrefix(idPrefix) else { return false }
        return !storeId.dropFirst(idPrefix.count).contains("/")
    }

    /// Runs `method` on `id` (nil when the URL has none) with `subPath` (the segments after the
    /// id, joined by `/`; nil when there are none) and the parsed body.
    /// `respond` runs once, on the loop, maybe before `handle` returns.
    func handle(method: String, id: String?, subPath: String?, body: JSONValue?, query: [String: String],
                respond: @escaping (AdminResponse) -> Void) {
        if descriptor.refusedMethods.contains(method) {
            return respond(AdminResponse.error(405, "not supported `\(method)` method for \(descriptor.kind)"))
        }
        // resource.lua passes `args.ttl` to etcd's set: a lease of that many seconds.
        let ttl = query["ttl"].flatMap(Double.init).flatMap { $0.isFinite && $0 > 0 ? $0 : nil }
        switch method {
        case "GET": respond(id.map { get(idPrefix + $0) } ?? list(query))
        case "PUT": put(id: id, body: body, ttl: ttl, respond: respond)
        case "POST": post(id: id, body: body, ttl: ttl, respond: respond)
        case "DELETE": delete(id: id, force: query["force"] == "true", respond: respond)
        case "PATCH": patch(id: id, subPath: subPath, body: body, ttl: ttl, respond: respond)
        default: respond(AdminResponse.error(404, "not found"))
        }
    }

    // MARK: - Reads

    private static let keyNotFound = AdminResponse.json(404, .object(["message": "Key not found"]))

    private func get(_ storeId: String) -> AdminResponse {
        guard isMine(storeId), let item = store.item(section, storeId) else { return Resource.keyNotFound }
        if v2 { return AdminResponse.json(200, AdminV2.node(action: "get", key: key(storeId), value: item.value)) }
        return AdminResponse.json(200, node(storeId, item))
    }

    private func node(_ id: String, _ item: StoredItem) -> JSONValue {
        .object(["key": .string(key(id)), "value": item.value, "createdIndex": .number(Double(item.createdIndex)),
                 "modifiedIndex": .number(Double(item.modifiedIndex))])
    }

    private func list(_ query: [String: String]) -> AdminResponse {
        let items = store.items(section).filter { isMine($0.key) }
        // etcd has no directory key for a consumer's credentials: an empty range is 404.
        if items.isEmpty, !idPrefix.isEmpty { return Resource.keyNotFound }
        // etcd returns a range in key byte order.
        var ids = items.keys.sorted { Array(key($0).utf8).lexicographicallyPrecedes(Array(key($1).utf8)) }
        if v2 { return AdminV2.list(directory: String(key(idPrefix).dropLast()), nodes: ids.map { node($0, items[$0]!) }) }
        ids = ids.filter { matchesFilters(items[$0]!.value, query) }
        let total = ids.count
        if let page = query["page"].flatMap(Double.init), let size = query["page_size"].flatMap(Double.init) {
            guard size >= 10, size <= 500 else { return AdminResponse.text(400, "page_size must be between 10 and 500") }
            ids.sort { items[$0]!.createdIndex < items[$1]!.createdIndex }
            let first = (max(Int(page), 1) - 1) * Int(size)
            ids = first < ids.count ? Array(ids[first..<min(first + Int(size), ids.count)]) : []
        }
        return AdminResponse.json(200, .object([
            "list": .array(ids.map { node($0, items[$0]!) }), "total": .number(Double(total)),
        ]))
    }

    private func matchesFilters(_ value: JSONValue, _ query: [String: String]) -> Bool {
        if let name = query["name"], !ListFilter.matches(value["name"]?.stringValue ?? "", name) { return false }
        if let label = query["label"], value["labels"]?[label] == nil { return false }
        for (argument, matcher) in descriptor.listFilters {
            if let pattern = query[argument], !matcher(value, pattern) { return false }
        }
        // `filter=service_id%3D1`: exact string equality (a numeric id in the object differs
        // from the text "1", as in Lua); fields the resource does not list are ignored.
        if let filter = query["filter"] {
            for (field, expected) in AdminRequest.parseQuery(Substring(filter)) where descriptor.filterFields.contains(field) {
                guard value[field]?.stringValue == expected else { return false }
            }
        }
        return true
    }

    // MARK: - Writes

    /// resource.lua `check_conf`: body present, id rules, forbidden timestamps, then the
    /// descriptor's check. Returns the id (as the store keys it) and the value to store.
    private func checkConf(urlId: String?, body: JSONValue?, needId: Bool,
                           allowTimestamps: Bool) -> Result<(id: String, value: JSONValue), AdminError> {
        guard var value = body else { return .failure(AdminError("missing configurations")) }
        var members = value.objectValue
        let id: String?
        if let nameField = descriptor.nameField {
            // A consumer: its username is its id, and it gets no `id` member.
            id = urlId ?? members?[nameField].map(Resource.luaString)
        } else if descriptor.urlIdOnly {
            id = urlId
            if let urlId, members != nil {
                members!["id"] = .string(urlId)
                value = .object(members!)
            }
        } else {
            let bodyId = members?["id"]
            id = urlId ?? bodyId.map(Resource.luaString)
            if needId, id == nil { return .failure(AdminError("missing \(descriptor.kind) id")) }
            if !needId, id != nil { return .failure(AdminError("wrong \(descriptor.kind) id, do not need it")) }
            if let urlId, let bodyId, Resource.luaString(bodyId) != urlId {
                return .failure(AdminError("wrong \(descriptor.kind) id"))
            }
            // A URL id is stored as a string; an id only in the body keeps its JSON type.
            if let urlId, members != nil {
                members!["id"] = .string(urlId)
                value = .object(members!)
            }
        }
        if !allowTimestamps, let message = forbiddenProperty(value) { return .failure(AdminError(message)) }
        let storeId = id.map { idPrefix + $0 } ?? ""
        if let error = descriptor.check(value, storeId, environment) { return .failure(AdminError(error.message)) }
        return .success((storeId, withDefaults(value)))
    }

    /// The value as APISIX stores it: its jsonschema check fills in schema defaults (a route's
    /// `priority` and `status`, an inline upstream's `type`, `hash_on`, `scheme`, `pass_host`) and
    /// each plugin's check its own (`plugin.lua` `check_schema`).
    private func withDefaults(_ value: JSONValue) -> JSONValue {
        let filled = descriptor.schema.applyingDefaults(to: value)
        guard case .object(let pluginConfs)? = filled["plugins"] else { return filled }
        return Resource.withMembers(filled) { members in
            members["plugins"] = .object(pluginConfs.reduce(into: [:]) { out, pair in
                let schema = plugins(pair.key)?.schema(consumer: descriptor.consumerPlugins)
                out[pair.key] = schema.map { $0.applyingDefaults(to: pair.value) } ?? pair.value
            })
        }
    }

    /// `the property is forbidden:  create_time` (two spaces, as APISIX prints it).
    private func forbiddenProperty(_ value: JSONValue) -> String? {
        let fields = ["create_time", "update_time"]
        for field in fields where value[field] != nil { return "the property is forbidden:  \(field)" }
        for parent in descriptor.nestedForbidden {
            for field in fields where value[parent]?[field] != nil {
                return "the property is forbidden:  \(parent).\(field)"
            }
        }
        return nil
    }

    /// Lua's `tostring` of an id: strings as they are, numbers as cjson prints them.
    static func luaString(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .number(let number): JSONValue.formatNumber(number)
        default: value.jsonText
        }
    }

    private func put(id urlId: String?, body: JSONValue?, ttl: Double?, respond: @escaping (AdminResponse) -> Void) {
        let checked: (id: String, value: JSONValue)
        switch checkConf(urlId: urlId, body: body, needId: true, allowTimestamps: false) {
        case .failure(let error): return respond(AdminResponse.error(400, error.message))
        case .success(let result): checked = result
        }
        // admin/resource.lua: a credential is written only beside its consumer.
        if !idPrefix.isEmpty, store.item(section, String(idPrefix.dropLast("/credentials/".count))) == nil {
            return respond(AdminResponse.error(404, "consumer not found"))
        }
        let previous = store.item(section, checked.id)
        let now = JSONValue.number(Double(time(nil)))
        let value = !descriptor.timestamps ? checked.value : Resource.withMembers(checked.value) { members in
            members["create_time"] = previous?.value["create_time"] ?? now
            members["update_time"] = now
        }
        write(.put(resource: section, id: checked.id, value: value, ifModifiedIndex: nil, ttl: ttl), id: checked.id,
              status: nil, action: "set", respond: respond)
    }

    private func post(id urlId: String?, body: JSONValue?, ttl: Double?, respond: @escaping (AdminResponse) -> Void) {
        switch checkConf(urlId: urlId, body: body, needId: false, allowTimestamps: false) {
        case .failure(let error): return respond(AdminResponse.error(400, error.message))
        case .success(let checked):
            // etcd's push: the id is a revision (the write's own with the local store, the one
            // of a write to `gen_id` with etcd), zero-padded to 20 digits.
            store.generateId { result in
                switch result {
                case .failure(let failure): respond(Resource.response(failure))
                case .success(let id):
                    let now = JSONValue.number(Double(time(nil)))
                    let value = Resource.withMembers(checked.value) { members in
                        members["id"] = .string(id)
                        members["create_time"] = now
                        members["update_time"] = now
                    }
                    write(.put(resource: section, id: id, value: value, ifModifiedIndex: nil, ttl: ttl), id: id,
                          status: 201, action: "create", respond: respond)
                }
            }
        }
    }

    private func delete(id: String?, force: Bool, respond: @escaping (AdminResponse) -> Void) {
        guard let id else { return respond(AdminResponse.error(400, "missing \(descriptor.kind) id")) }
        if !force, let deleteCheck = descriptor.deleteCheck, let message = deleteCheck(id, store) {
            return respond(AdminResponse.error(400, message))
        }
        let storeId = idPrefix + id
        // A consumer's credentials go first (resource.lua's `rmdir`), even when it is missing.
        let credentials = descriptor.nameField == nil ? [] :
            store.items(section).keys.filter { $0.hasPrefix(storeId + "/credentials/") }.sorted()
        guard isMine(storeId), store.item(section, storeId) != nil || !credentials.isEmpty else {
            return respond(Resource.keyNotFound)
        }
        let key = key(storeId)
        deleteInOrder(credentials + [storeId]) { result in
            switch result {
            case .failure(let failure): respond(Resource.response(failure))
            case .success:
                respond(AdminResponse.json(200, v2 ? AdminV2.deleted(key: key) : .object(["deleted": "1", "key": .string(key)])))
            }
        }
    }

    /// Deletes `storeIds` one after the other, publishing after each; the first failure ends it.
    private func deleteInOrder(_ storeIds: [String], done: @escaping (Result<Void, StoreWriteFailure>) -> Void) {
        guard let first = storeIds.first else { return done(.success(())) }
        let committed = committed
        store.write(.delete(resource: section, id: first)) { [self] result in
            switch result {
            case .failure(let failure): done(.failure(failure))
            case .success:
                committed()
                deleteInOrder(Array(storeIds.dropFirst()), done: done)
            }
        }
    }

    private func patch(id: String?, subPath: String?, body: JSONValue?, ttl: Double?, respond: @escaping (AdminResponse) -> Void) {
        guard let id else { return respond(AdminResponse.error(400, "missing \(descriptor.kind) id")) }
        guard let body else { return respond(AdminResponse.error(400, "missing new configuration")) }
        let subPath = subPath ?? ""
        if subPath.isEmpty, body.objectValue == nil { return respond(AdminResponse.error(400, "invalid configuration")) }
        guard isMine(idPrefix + id), let previous = store.item(section, idPrefix + id) else {
            return respond(Resource.keyNotFound)
        }
        let now = JSONValue.number(Double(time(nil)))
        var merged: JSONValue
        if subPath.isEmpty {
            merged = Resource.merge(previous.value, body)
            merged = Resource.withMembers(merged) { members in
                if members["create_time"] == nil { members["create_time"] = now }
                // The PATCH body may set update_time itself.
                if body["update_time"] == nil || members["update_time"] == nil { members["update_time"] = now }
            }
        } else {
            switch Resource.patch(previous.value, path: subPath.split(separator: "/", omittingEmptySubsequences: false).map(String.init), with: body) {
            case .failure(let error): return respond(AdminResponse.error(400, error.message))
            case .success(let value): merged = value
            }
            merged = Resource.withMembers(merged) { members in
                if members["create_time"] == nil { members["create_time"] = now }
                members["update_time"] = now
            }
        }
        switch checkConf(urlId: id, body: merged, needId: true, allowTimestamps: true) {
        case .failure(let error): respond(AdminResponse.error(400, error.message))
        case .success(let checked):
            // Compare-and-swap on the revision the merge started from.
            write(.put(resource: section, id: checked.id, value: checked.value, ifModifiedIndex: previous.modifiedIndex, ttl: ttl),
                  id: checked.id, status: 200, action: "compareAndSwap", respond: respond)
        }
    }

    /// Writes and answers `{"key","value"}` with `status`, or for nil 201 when the key was new
    /// and 200 when it replaced one.
    private func write(_ change: StoreWrite, id: String, status: Int?, action: String,
                       respond: @escaping (AdminResponse) -> Void) {
        let key = key(id)
        let committed = committed
        let v2 = v2
        store.write(change) { result in
            switch result {
            case .failure(let failure): respond(Resource.response(failure))
            case .success(let written):
                committed()
                let value = written.item?.value ?? .null
                respond(AdminResponse.json(status ?? (written.existed ? 200 : 201),
                                           v2 ? AdminV2.node(action: action, key: key, value: value)
                                              : .object(["key": .string(key), "value": value])))
            }
        }
    }

    /// The answer to a failed write (core/etcd.lua's shapes).
    static func response(_ failure: StoreWriteFailure) -> AdminResponse {
        switch failure {
        case .unavailable(let reason): AdminResponse.error(503, reason)
        case .changed: AdminResponse.error(503, "value changed before overwritten")
        case .notFound: keyNotFound
        }
    }

    // MARK: - JSON helpers

    static func withMembers(_ value: JSONValue, _ body: (inout [String: JSONValue]) -> Void) -> JSONValue {
        guard case .object(var members) = value else { return value }
        body(&members)
        return .object(members)
    }

    /// core/table.lua `merge`: objects merge member by member, `null` removes a member, anything
    /// else (arrays included) replaces.
    static func merge(_ base: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(var members) = base, case .object(let changes) = patch else { return patch }
        for (name, change) in changes {
            switch change {
            case .null: members[name] = nil
            case .object:
                if let current = members[name], case .object = current {
                    members[name] = merge(current, change)
                } else {
                    members[name] = merge(.object([:]), change)
                }
            default: members[name] = change
            }
        }
        return .object(members)
    }

    /// core/table.lua `patch`: sets the value at `path`, creating missing objects on the way.
    /// An empty last segment replaces the whole value.
    static func patch(_ value: JSONValue, path: [String], with replacement: JSONValue) -> Result<JSONValue, AdminError> {
        guard let first = path.first else { return .success(replacement) }
        guard case .object(var members) = value else {
            return .failure(AdminError("invalid sub-path: /" + path.joined(separator: "/")))
        }
        if path.count == 1 {
            if first.isEmpty { return .success(replacement) }
            members[first] = replacement
            return .success(.object(members))
        }
        let child = members[first] ?? .object([:])
        guard case .object = child else { return .failure(AdminError("invalid sub-path: /" + first)) }
        switch patch(child, path: Array(path.dropFirst()), with: replacement) {
        case .failure(let error):
            return .failure(AdminError(error.message.replacingOccurrences(of: "invalid sub-path: /", with: "invalid sub-path: /\(first)/")))
        case .success(let updated):
            members[first] = updated
            return .success(.object(members))
        }
    }
}

/// An Admin API refusal: its `error_msg`.
struct AdminError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
