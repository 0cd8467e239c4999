/// An APISIX `vars` expression (lua-resty-expr v1, as `_meta.filter`, route `vars` and the
/// response-rewrite `vars` use it), compiled once per snapshot and evaluated per request without
/// allocating.
///
/// Forms (lua-resty-expr's): `[]` matches everything; `[[var, op, value], ...]` is an AND of its
/// items; `["AND"|"OR"|"!AND"|"!OR", item, item, ...]` combines items (nested freely); an item is
/// `[var, op, value]`, `[var, "!", op, value]` (negated) or `[var, value]` (`==`). Operators: `==`,
/// `~=` (compare as numbers when the value is a number), `>`, `>=`, `<`, `<=` (numbers), `~~` and
/// `~*` (PCRE find, case-sensitive / not), `in` (value is an array), `has` (the variable is a
/// list: never true for the single-valued variables of a request), `ipmatch` (address or CIDR, or
/// an array of them). An unset variable compares as nil does in Lua: `==` null is true, `~=`
/// anything else is true, the rest false.
package indirect enum Expr: Sendable {
    case and([Expr])
    case or([Expr])
    case notAnd([Expr])
    case notOr([Expr])
    case compare(Comparison)
    /// `[]`.
    case always

    package struct Comparison: Sendable {
        package var variable: RequestVariable
        package var op: Op
        package var negated: Bool
        package var operand: Operand
    }

    package enum Op: String, Sendable {
        case eq = "==", ne = "~=", gt = ">", ge = ">=", lt = "<", le = "<="
        case regex = "~~", regexCaseless = "~*", `in` = "in", has = "has", ipmatch = "ipmatch"
    }

    package enum Operand: Sendable {
        case null
        case bool(Bool)
        case number(Double)
        case string([UInt8])
        /// `in`: the strings of the array (Lua compares a string with numbers as unequal).
        case strings([[UInt8]])
        /// A regex that did not compile: lua-resty-expr only finds out when matching, and the
        /// comparison is then false.
        case regex(PCRERegex?)
        case cidrs([CIDR])
        /// An operand the operator cannot use (`in` with a non-array, `>` with a non-number).
        case unusable
    }

    /// Compiles `rule` with lua-resty-expr's error strings (APISIX prefixes them with
    /// `failed to validate the 'vars' expression: `).
    package init(_ rule: JSONValue) throws(ExprError) {
        guard case .array(let items) = rule else { throw ExprError("rule should be wrapped inside brackets") }
        if items.isEmpty {
            self = .always
            return
        }
        if case .array = items[0] {} else {
            guard case .string(let op) = items[0], Self.logicOps.contains(op.uppercased()) else {
                throw ExprError("rule should be wrapped inside brackets")
            }
        }
        self = try Self.compile(items)
    }

    static let logicOps: Set<String> = ["AND", "OR", "!AND", "!OR"]

    private static func compile(_ rules: [JSONValue]) throws(ExprError) -> Expr {
        guard !rules.isEmpty else { throw ExprError("rule too short") }
        if case .array = rules[0] {
            var all: [Expr] = []
            for rule in rules {
                guard case .array(let inner) = rule else { throw ExprError("invalid expression") }
                all.append(try compile(inner))
            }
            return .and(all)
        }
        if case .string(let word) = rules[0], logicOps.contains(word.uppercased()) {
            guard rules.count > 2 else { throw ExprError("rule too short") }
            var items: [Expr] = []
            for rule in rules.dropFirst() {
                guard case .array(let inner) = rule else { throw ExprError("invalid expression") }
                items.append(try compile(inner))
            }
            switch word.uppercased() {
            case "OR": return .or(items)
            case "!AND": return .notAnd(items)
            case "!OR": return .notOr(items)
            default: return .and(items)
            }
        }
        return .compare(try comparison(rules))
    }

    private static func comparison(_ expr: [JSONValue]) throws(ExprError) -> Comparison {
        var negated = false
        var left: JSONValue?
        var opValue: JSONValue?
        var right: JSONValue?
        if expr.count == 4 {
            guard expr[1] == .string("!") else { throw ExprError("bad 'not' expression") }
            negated = true
            (left, opValue, right) = (expr[0], expr[2], expr[3])
        } else {
            left = expr[0]
            opValue = expr.count > 1 ? expr[1] : nil
            right = expr.count > 2 ? expr[2] : nil
        }
        var opName: String?
        if case .string(let s)? = opValue { opName = s.lowercased() }
        if right == nil && (opName.flatMap(Op.init(rawValue:)) == nil) {
            // `[var, value]` is `[var, "==", value]`.
            right = opValue
            opName = "=="
            if right == nil { throw ExprError("invalid expression") }
        }
        guard case .string(let name)? = left, let opName else { throw ExprError("invalid expression") }
        guard let op = Op(rawValue: opName) else { throw ExprError("invalid operator '\(opName)'") }
        return Comparison(variable: RequestVariable(name: name), op: op, negated: negated, operand: try operand(op, right ?? .null))
    }

    private static func operand(_ op: Op, _ value: JSONValue) throws(ExprError) -> Operand {
        switch op {
        case .regex, .regexCaseless:
            guard case .string(let pattern) = value else { return .regex(nil) }
            return .regex(try? PCRERegex(pattern, caseless: op == .regexCaseless))
        case .in:
            guard case .array(let items) = value else { return .unusable }
            return .strings(items.compactMap { if case .string(let s) = $0 { Array(s.utf8) } else { nil } })
        case .ipmatch:
            var texts: [JSONValue]
            switch value {
            case .string(let s) where !s.isEmpty: texts = [.string(s)]
            case .array(let items) where !items.isEmpty: texts = items
            default: throw ExprError("invalid ip address")
            }
            var cidrs: [CIDR] = []
            for text in texts {
                guard case .string(let s) = text, let cidr = CIDR(s) else {
                    if case .string(let s) = text { throw ExprError("invalid ip address: \(s)") }
                    throw ExprError("invalid ip address")
                }
                cidrs.append(cidr)
            }
            texts.removeAll()
            return .cidrs(cidrs)
        case .eq, .ne, .gt, .ge, .lt, .le, .has:
            switch value {
            case .null: return .null
            case .bool(let b): return .bool(b)
            case .number(let n): return .number(n)
            case .string(let s): return .string(Array(s.utf8))
            case .array, .object: return .unusable
            }
        }
    }
}

package struct ExprError: Error, Sendable, Equatable {
    package var message: String
    package init(_ message: String) { self.message = message }
}
