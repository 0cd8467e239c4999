// The stricter check a route's `vars` gets beyond compiling (resources.md, "Where Sluice
// differs"): every variable must be one the router can read when it matches (section 8.4), and
// every `~~` / `~*` pattern must compile, instead of reading as nil or failing per request.

extension Expr {
    /// Compiles a route's `vars` and refuses what Sluice does not serve, with the text that
    /// follows `failed to validate the 'vars' expression: `.
    package static func routeVars(_ rule: JSONValue) throws(ExprError) -> Expr {
        let expr = try Expr(rule)
        try checkRouteItems(rule)
        return expr
    }

    /// Walks the same shapes `init` accepts (it already succeeded).
    private static func checkRouteItems(_ rule: JSONValue) throws(ExprError) {
        guard case .array(let items) = rule, let first = items.first else { return }
        if case .array = first {
            for item in items { try checkRouteItems(item) }
            return
        }
        guard case .string(let head) = first else { return }
        if logicOps.contains(head.uppercased()), items.count > 1, case .array = items[1] {
            for item in items.dropFirst() { try checkRouteItems(item) }
            return
        }
        try checkComparison(name: head, items)
    }

    private static func checkComparison(name: String, _ items: [JSONValue]) throws(ExprError) {
        switch RequestVariable(name: name) {
        case .uri, .requestURI, .host, .remoteAddr, .remotePort, .requestMethod, .queryString, .scheme,
             .serverAddr, .serverPort, .arg, .http, .cookie:
            break
        default:
            throw ExprError("variable '\(name)' is not supported")
        }
        let opIndex = items.count == 4 ? 2 : 1
        guard items.count > opIndex + 1, case .string(let op) = items[opIndex],
              ["~~", "~*"].contains(op.lowercased()), case .string(let pattern) = items[opIndex + 1] else { return }
        do throws(PCRERegexError) {
            _ = try PCRERegex(pattern, caseless: op == "~*")
        } catch {
            throw ExprError("invalid regex '\(pattern)': \(error.message)")
        }
    }
}
