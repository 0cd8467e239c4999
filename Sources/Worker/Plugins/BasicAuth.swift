package import Shared

/// `basic-auth` (apisix/plugins/basic-auth.lua; plugins.md section 3): priority 2520, rewrite,
/// type auth. `Authorization` must hold `basic` (any case), one whitespace and standard base64 of
/// `user:password`; the decoded text is split at the **first** `:` (RFC 7617, where APISIX splits
/// at every one) and whitespace is removed from both parts. The username finds the consumer
/// (`ConsumerIndex`), the password must equal its conf's (compared in constant time). 401s carry
/// `WWW-Authenticate: Basic realm="<realm>"`; logs give the reason, never the credentials.
/// Parsing happens in the request's scratch space: nothing is allocated on success.
package final class BasicAuthPlugin: Plugin {
    package static let name = "basic-auth"
    package static let priority = 2520
    package static let phases: PluginPhases = [.rewrite]

    package static var schema: Schema {
        Schema(type: .object, properties: [
            "hide_credentials": Schema(type: .boolean, defaultValue: .bool(false)),
            "realm": KeyAuthPlugin.realmSchema(default: "basic"),
            "anonymous_consumer": Schema(type: .string, minLength: 1),
        ])
    }

    static var consumerSchema: Schema {
        Schema(type: .object, properties: ["username": Schema(type: .string), "password": Schema(type: .string)],
               required: ["username", "password"], custom: { conf in
            for field in ["username", "password"] {
                if let value = conf[field]?.stringValue, value.hasPrefix("$env://") || value.hasPrefix("$secret://") {
                    return "secret reference in \(field) is not supported"
                }
            }
            return nil
        })
    }

    package static var spec: PluginSpec {
        PluginSpec(schema: schema, consumerSchema: consumerSchema, isAuth: true, consumerEncryptFields: ["password"],
                   consumerKey: "username", consumerSecret: "password")
    }

    static let authorization = RequestVariable.http(Array("authorization".utf8))
    static let missing = Array(#"{"message":"Missing authorization in request"}"#.utf8) + [0x0A]
    static let invalid = Array(#"{"message":"Invalid authorization in request"}"#.utf8) + [0x0A]
    static let unauthorized = Array(#"{"message":"Invalid user authorization"}"#.utf8) + [0x0A]

    let hideCredentials: Bool
    let anonymous: String?
    let challenge: [UInt8]
    let anonymousFailure: String

    package init(config: JSONValue) throws(PluginBuildError) {
        hideCredentials = config["hide_credentials"]?.boolValue ?? false
        anonymous = config["anonymous_consumer"]?.stringValue
        challenge = Array("Basic realm=\"\(config["realm"]?.stringValue ?? "basic")\"".utf8)
        anonymousFailure = "basic-auth failed to authenticate the request, code: 401. error: "
            + "failed to get anonymous consumer \(anonymous ?? "")"
    }

    /// What the `Authorization` header gave.
    enum Outcome {
        case found(ConsumerEntry)
        case missing
        /// Not `basic <base64 of a:b>`; the reason for the warn log.
        case malformed(StaticString)
        case unknownUser
        case wrongPassword
    }

    package func rewrite(_ ctx: RequestContext) -> PhaseResult {
        let index = ctx.route?.consumers
        let outcome = ctx.variable(Self.authorization) { value -> Outcome in
            guard let value else { return .missing }
            return Self.check(value, ctx: ctx, index: index)
        }
        var failure: (body: [UInt8], warn: String?)
        switch outcome {
        case .found(let consumer):
            if hideCredentials { ctx.removeRequestHeader("Authorization") }
            ctx.attachConsumer(consumer)
            return .next
        case .missing: failure = (Self.missing, nil)
        case .malformed(let reason): failure = (Self.invalid, reason.description)
        case .unknownUser: failure = (Self.unauthorized, "failed to find user: invalid user")
        case .wrongPassword: failure = (Self.unauthorized, nil)
        }
        if let anonymous {
            guard let consumer = index?.consumer(named: anonymous) else {
                challenge.withUnsafeBytes { ctx.setResponseHeader("WWW-Authenticate", $0) }
                return .respond(status: 401, body: Self.unauthorized, errorLog: anonymousFailure)
            }
            if hideCredentials { ctx.removeRequestHeader("Authorization") }
            ctx.attachConsumer(consumer)
            return .next
        }
        challenge.withUnsafeBytes { ctx.setResponseHeader("WWW-Authenticate", $0) }
        return .respond(status: 401, body: failure.body, errorLog: nil, warnLog: failure.warn)
    }

    /// `(?i:basic)\s(.+)` (unanchored), base64, the first `:`, whitespace removed, the lookup and
    /// the password, all in the request's scratch space.
    static func check(_ header: UnsafeRawBufferPointer, ctx: RequestContext, index: ConsumerIndex?) -> Outcome {
        guard let encoded = encodedPart(header) else { return .malformed("Invalid authorization header format") }
        return ctx.withScratch(count: encoded.count) { scratch -> Outcome in
            var n = 0
            guard Base64.decodeStandard(encoded, { scratch[n] = $0; n += 1 }) else {
                return .malformed("Failed to decode authentication header")
            }
            guard let colon = (0..<n).first(where: { scratch[$0] == UInt8(ascii: ":") }) else {
                return .malformed("Split authorization err: invalid decoded data")
            }
            // In place: the username without whitespace, then the password without it.
            var end = 0
            for i in 0..<colon where !isSpace(scratch[i]) { scratch[end] = scratch[i]; end += 1 }
            let userEnd = end
            for i in (colon + 1)..<n where !isSpace(scratch[i]) { scratch[end] = scratch[i]; end += 1 }
            let user = UnsafeRawBufferPointer(rebasing: scratch[0..<userEnd])
            let password = UnsafeRawBufferPointer(rebasing: scratch[userEnd..<end])
            guard let match = index?.find(plugin: name, key: user) else { return .unknownUser }
            guard let secret = match.secret, secret.withUnsafeBytes({ equalInConstantTime($0, password) }) else {
                return .wrongPassword
            }
            return .found(match.entry)
        } ?? .malformed("Invalid authorization header format")
    }

    /// The text after the first `basic` (any case) that is followed by one whitespace byte and at
    /// least one more byte.
    static func encodedPart(_ header: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let word: [UInt8] = [0x62, 0x61, 0x73, 0x69, 0x63]  // basic
        guard header.count >= 7 else { return nil }
        for start in 0...(header.count - 7) {
            var matches = true
            for k in 0..<5 where header[start + k] | 0x20 != word[k] { matches = false; break }
            if matches, isSpace(header[start + 5]) {
                return UnsafeRawBufferPointer(rebasing: header[(start + 6)...])
            }
        }
        return nil
    }

    /// PCRE's `\s`: space, \t, \n, \v, \f, \r.
    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }

    /// Whether `a` equals `b`, in a time that depends on their lengths only.
    static func equalInConstantTime(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
