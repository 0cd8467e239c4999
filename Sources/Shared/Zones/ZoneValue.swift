/// A value in a shared zone's table, as `ngx.shared.DICT` holds Lua values.
package enum ZoneValue: Sendable, Equatable {
    case integer(Int64)
    case double(Double)
    case bool(Bool)
    case bytes([UInt8])

    /// `ZoneLayout` `kind` byte.
    var kind: UInt8 {
        switch self {
        case .integer: 1
        case .double: 2
        case .bool: 3
        case .bytes: 4
        }
    }

    /// The 8-byte number word (integers, doubles and booleans live there; bytes in the data).
    var number: UInt64 {
        switch self {
        case .integer(let value): UInt64(bitPattern: value)
        case .double(let value): value.bitPattern
        case .bool(let value): value ? 1 : 0
        case .bytes: 0
        }
    }

    var byteCount: Int {
        if case .bytes(let bytes) = self { return bytes.count }
        return 0
    }

    /// A UTF-8 string value.
    package static func string(_ text: String) -> ZoneValue { .bytes(Array(text.utf8)) }
}

/// Why a zone operation did not happen; `message` is lua-nginx-module's string for it.
package enum ZoneError: Error, Sendable, Equatable {
    /// `add` of a key that holds an unexpired value.
    case exists
    /// `replace` or `incr` (without an initial value) of a missing key.
    case notFound
    /// The entry does not fit, even after the evictions the operation allows.
    case noMemory
    case emptyKey
    /// Keys are at most 65535 bytes, as in nginx.
    case keyTooLong
    /// `incr` of a value that is not an integer, or a counter over a key of another kind.
    case notANumber
    /// `set`, `delete` or eviction of a counter: counters live as long as their zone.
    case counter

    package var message: String {
        switch self {
        case .exists: "exists"
        case .notFound: "not found"
        case .noMemory: "no memory"
        case .emptyKey: "empty key"
        case .keyTooLong: "key too long"
        case .notANumber: "not a number"
        case .counter: "is a counter"
        }
    }
}
