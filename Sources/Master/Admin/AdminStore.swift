// What the Admin API needs of a config store, whichever provider holds it: reads from memory
// (the `local` store itself, or the etcd provider's synchronized copy) and writes that complete
// later (at once for the local file, after etcd's answer for etcd).

import Shared

/// One write the Admin API asks of a store.
enum StoreWrite {
    /// Create or replace `id`. With `ifModifiedIndex`, only while the stored item's
    /// `modifiedIndex` still is that (compare-and-swap, PATCH). With `ttl` (seconds), the key
    /// lapses then (an etcd lease; `?ttl=`).
    case put(resource: String, id: String, value: JSONValue, ifModifiedIndex: Int?, ttl: Double? = nil)
    case delete(resource: String, id: String)
}

/// What a write did.
struct StoreWriteResult {
    /// The item written (nil for a delete).
    var item: StoredItem?
    /// Whether the key existed before the write.
    var existed: Bool
}

/// Why a write did not happen.
enum StoreWriteFailure: Error {
    /// The store could not be written (etcd unreachable, disk error): 503 with the reason.
    case unavailable(String)
    /// The compare-and-swap found another revision: 503 `value changed before overwritten`.
    case changed
    /// A delete found no such key: 404 `Key not found`.
    case notFound
}

/// A store the Admin API reads and writes. Confined to the control process's loop.
protocol AdminStore: AnyObject {
    /// The item `id` of `resource`, if stored.
    func item(_ resource: String, _ id: String) -> StoredItem?
    /// The items of `resource`, by id.
    func items(_ resource: String) -> [String: StoredItem]
    /// nil while the store can be used; else why every resource request answers 503.
    var unavailableReason: String? { get }
    /// Performs `write`; `done` runs on the loop, maybe before `write` returns.
    func write(_ write: StoreWrite, done: @escaping (Result<StoreWriteResult, StoreWriteFailure>) -> Void)
    /// A fresh id for POST: a revision zero-padded to 20 digits, as APISIX makes them.
    func generateId(done: @escaping (Result<String, StoreWriteFailure>) -> Void)
}

extension AdminStore {
    /// `00000000000000000023`: APISIX's POST id for revision 23.
    static func paddedId(_ revision: Int) -> String {
        let digits = String(revision)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }
}

extension ConfigStore: AdminStore {
    var unavailableReason: String? { nil }

    func write(_ write: StoreWrite, done: @escaping (Result<StoreWriteResult, StoreWriteFailure>) -> Void) {
        switch write {
        case .put(let resource, let id, let value, let expected, let ttl):
            let previous = item(resource, id)
            if let expected, previous?.modifiedIndex != expected { return done(.failure(.changed)) }
            do {
                let item = try commit(.put(resource: resource, id: id, value: value,
                                           expiresAt: ttl.map { ConfigStore.now() + $0 }))
                done(.success(StoreWriteResult(item: item, existed: previous != nil)))
            } catch {
                done(.failure(.unavailable(error.message)))
            }
        case .delete(let resource, let id):
            guard item(resource, id) != nil else { return done(.failure(.notFound)) }
            do {
                try commit(.delete(resource: resource, id: id))
                done(.success(StoreWriteResult(item: nil, existed: true)))
            } catch {
                done(.failure(.unavailable(error.message)))
            }
        }
    }

    /// The revision the next commit gets (the POST's own write).
    func generateId(done: @escaping (Result<String, StoreWriteFailure>) -> Void) {
        done(.success(Self.paddedId(nextRevision)))
    }
}
