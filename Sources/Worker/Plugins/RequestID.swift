import CLibevent
package import Shared
#if canImport(Glibc)
import Glibc
#endif

/// `request-id` (apisix/plugins/request-id.lua; plugins.md section 13): priority 12015, rewrite and
/// header_filter. Rewrite: a request without the header (or with an empty one) gets a new id,
/// set on the request to the upstream; otherwise the client's id is kept. Header filter (with
/// `include_in_response`): the id is set on the response unless it already has that header.
///
/// Ids are generated in place in the request's context (no allocation): `uuid` (v4) and `nanoid`
/// from OpenSSL's CSPRNG, `range_id` from `char_set`, `uuidv7` time-ordered. `ksuid` is refused
/// (plugins.md: may be left out).
package final class RequestIDPlugin: Plugin {
    package static let name = "request-id"
    package static let priority = 12015
    package static let phases: PluginPhases = [.rewrite, .headerFilter]
    /// APISIX's default `char_set`, its typo (`IGKL`) included: ids drawn from it are API.
    static let defaultCharSet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIGKLMNOPQRSTUVWXYZ0123456789"

    package static var schema: Schema {
        Schema(type: .object, properties: [
            "header_name": Schema(type: .string, defaultValue: .string("X-Request-Id")),
            "include_in_response": Schema(type: .boolean, defaultValue: .bool(true)),
            "algorithm": Schema(type: .string, enumValues: ["uuid", "nanoid", "range_id", "ksuid", "uuidv7"].map(JSONValue.string),
                                defaultValue: .string("uuid")),
            "range_id": Schema(type: .object, properties: [
                "length": Schema(type: .integer, minimum: 6, defaultValue: .number(16)),
                "char_set": Schema(type: .string, minLength: 6, defaultValue: .string(defaultCharSet)),
            ], defaultValue: .object(["length": .number(16), "char_set": .string(defaultCharSet)])),
        ], custom: { conf in
            conf["algorithm"] == .string("ksuid") ? "algorithm \"ksuid\" is not supported" : nil
        })
    }

    enum Algorithm { case uuid, nanoid, rangeID, uuidV7 }

    let headerName: [UInt8]
    /// `headerName` lower-cased with `-`, for the `$http_` lookup.
    let lookupName: [UInt8]
    let includeInResponse: Bool
    let algorithm: Algorithm
    let rangeLength: Int
    let charSet: [UInt8]

    package init(config: JSONValue) throws(PluginBuildError) {
        headerName = Array((config["header_name"]?.stringValue ?? "X-Request-Id").utf8)
        lookupName = headerName.map { $0 == UInt8(ascii: "_") ? UInt8(ascii: "-") : ASCII.lower($0) }
        includeInResponse = config["include_in_response"]?.boolValue ?? true
        switch config["algorithm"]?.stringValue ?? "uuid" {
        case "nanoid": algorithm = .nanoid
        case "range_id": algorithm = .rangeID
        case "uuidv7": algorithm = .uuidV7
        case "uuid": algorithm = .uuid
        default: throw PluginBuildError("algorithm \"\(config["algorithm"]?.stringValue ?? "")\" is not supported")
        }
        rangeLength = config["range_id"]?["length"]?.intValue ?? 16
        charSet = Array((config["range_id"]?["char_set"]?.stringValue ?? Self.defaultCharSet).utf8)
    }

    package func rewrite(_ ctx: RequestContext) -> PhaseResult {
        let clientID: UInt64? = ctx.variable(.http(lookupName)) { value in
            guard let value, !value.isEmpty else { return nil }
            return ctx.keep(value)
        }
        if let clientID {
            ctx.state = clientID
            return .next
        }
        guard let id = generate(ctx) else { return .next }
        ctx.state = id
        headerName.withUnsafeBytes { ctx.setRequestHeader($0, ctx.kept(id)) }
        return .next
    }

    package func headerFilter(_ ctx: RequestContext) {
        guard includeInResponse, ctx.state != 0 else { return }
        headerName.withUnsafeBytes { name in
            if !lookupName.withUnsafeBytes({ ctx.hasResponseHeader($0) }) {
                ctx.setResponseHeader(name, ctx.kept(ctx.state))
            }
        }
    }

    /// A new id in the request's context.
    func generate(_ ctx: RequestContext) -> UInt64? {
        switch algorithm {
        case .uuid:
            return ctx.keep(count: 36) { out in
                var raw = Self.random16()
                raw.6 = raw.6 & 0x0F | 0x40  // version 4
                raw.8 = raw.8 & 0x3F | 0x80  // RFC 4122 variant
                Self.formatUUID(raw, into: out)
            }
        case .uuidV7:
            return ctx.keep(count: 36) { out in
                var raw = Self.random16()
                var ts = timespec()
                clock_gettime(CLOCK_REALTIME, &ts)
                let ms = UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
                withUnsafeMutableBytes(of: &raw) { bytes in
                    for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: ms >> (8 * UInt64(5 - i))) }
                }
                raw.6 = raw.6 & 0x0F | 0x70  // version 7
                raw.8 = raw.8 & 0x3F | 0x80
                Self.formatUUID(raw, into: out)
            }
        case .nanoid:
            return ctx.keep(count: 21) { out in
                _ = RAND_bytes(out.baseAddress!.assumingMemoryBound(to: UInt8.self), 21)
                Self.nanoidAlphabet.withUnsafeBytes { alphabet in
                    for i in 0..<21 { out[i] = alphabet[Int(out[i] & 63)] }
                }
            }
        case .rangeID:
            return ctx.keep(count: rangeLength) { out in
                _ = RAND_bytes(out.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(out.count))
                charSet.withUnsafeBytes { set in
                    // One random byte per character; a set of up to 256 characters (modulo bias is
                    // that of APISIX's math.random-based choice or less).
                    for i in 0..<out.count { out[i] = set[Int(out[i]) % set.count] }
                }
            }
        }
    }

    private static let nanoidAlphabet: [UInt8] = Array("-_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    typealias Raw16 = (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                       UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    static func random16() -> Raw16 {
        var raw: Raw16 = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &raw) { _ = RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 16) }
        return raw
    }

    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower-case hex, into 36 bytes.
    static func formatUUID(_ raw: Raw16, into out: UnsafeMutableRawBufferPointer) {
        var value = raw
        withUnsafeBytes(of: &value) { bytes in
            hex.withUnsafeBytes { digits in
                var o = 0
                for i in 0..<16 {
                    if i == 4 || i == 6 || i == 8 || i == 10 { out[o] = UInt8(ascii: "-"); o += 1 }
                    out[o] = digits[Int(bytes[i] >> 4)]
                    out[o + 1] = digits[Int(bytes[i] & 0x0F)]
                    o += 2
                }
            }
        }
    }
}
