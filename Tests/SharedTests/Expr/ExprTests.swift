import Testing
@testable import Shared

/// Variables from a dictionary keyed by APISIX's names.
private struct Vars: RequestVariables {
    var values: [String: String]
    func withValue<R>(of variable: RequestVariable, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        let key: String
        switch variable {
        case .uri: key = "uri"
        case .host: key = "host"
        case .remoteAddr: key = "remote_addr"
        case .requestMethod: key = "request_method"
        case .status: key = "status"
        case .arg(let n): key = "arg_" + String(decoding: n, as: UTF8.self)
        case .http(let n): key = "http_" + String(decoding: n, as: UTF8.self)
        case .cookie(let n): key = "cookie_" + String(decoding: n, as: UTF8.self)
        default: key = "?"
        }
        guard var value = values[key] else { return body(nil) }
        return value.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}

/// lua-resty-expr v1 semantics and error strings, as APISIX's `vars` and `_meta.filter` use them.
@Suite struct ExprTests {
    private func json(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }
    private func eval(_ rule: String, _ vars: [String: String]) throws -> Bool {
        try Expr(json(rule)).matches(Vars(values: vars))
    }

    @Test(arguments: [
        (#"[["arg_name","==","json"]]"#, true),
        (#"[["arg_name","~=","json"]]"#, false),
        (#"[["arg_name","json"]]"#, true),
        (#"[["arg_name","!","==","json"]]"#, false),
        (#"[["arg_missing","==",null]]"#, true),
        (#"[["arg_missing","~=","x"]]"#, true),
        (#"[["arg_missing","==","x"]]"#, false),
        (#"[["arg_age",">",18]]"#, true),
        (#"[["arg_age",">=","20"]]"#, true),
        (#"[["arg_age","<",20]]"#, false),
        (#"[["arg_age","<=",20.0]]"#, true),
        (#"[["arg_age","==",20]]"#, true),
        (#"[["arg_name",">",1]]"#, false),
        (#"[["arg_name","==",1]]"#, false),
        (#"[["arg_name","~=",1]]"#, true),
        (#"[["http_user_agent","~~","^curl/"]]"#, true),
        (#"[["http_user_agent","~~","^CURL/"]]"#, false),
        (#"[["http_user_agent","~*","^CURL/"]]"#, true),
        (#"[["http_user_agent","~~","(unclosed"]]"#, false),
        (#"[["request_method","in",["GET","POST"]]]"#, true),
        (#"[["request_method","in",["PUT"]]]"#, false),
        (#"[["request_method","in","GET"]]"#, false),
        (#"[["request_method","has","GET"]]"#, false),
        (#"[["remote_addr","ipmatch","10.0.0.0/8"]]"#, true),
        (#"[["remote_addr","ipmatch",["192.168.0.1","10.1.2.3"]]]"#, true),
        (#"[["remote_addr","ipmatch",["192.168.0.0/16"]]]"#, false),
        (#"[["arg_name","==","json"],["arg_age","==","21"]]"#, false),
        (#"["OR",["arg_name","==","x"],["arg_age","==","20"]]"#, true),
        (#"["!OR",["arg_name","==","x"],["arg_age","==","20"]]"#, false),
        (#"["!AND",["arg_name","==","x"],["arg_age","==","20"]]"#, true),
        (#"["AND",["arg_name","==","json"],["OR",["cookie_sid","==","abc"],["host","==","nope"]]]"#, true),
        (#"[]"#, true),
        (#"[["ARG_NAME","==","json"]]"#, false),
        (#"[["arg_name","IN",["json"]]]"#, true),
    ])
    func evaluates(_ rule: String, _ expected: Bool) throws {
        let vars = ["arg_name": "json", "arg_age": "20", "http_user-agent": "curl/8.0", "request_method": "GET",
                    "remote_addr": "10.1.2.3", "cookie_sid": "abc", "host": "example.com"]
        #expect(try eval(rule, vars) == expected, "\(rule)")
    }

    @Test(arguments: [
        (#"{}"#, "rule should be wrapped inside brackets"),
        (#"["arg_name","==","json"]"#, "rule should be wrapped inside brackets"),
        (#"[["arg_name","=","json"]]"#, "invalid operator '='"),
        (#"[["arg_name","?","==","json"]]"#, "bad 'not' expression"),
        (#"[["arg_name"]]"#, "invalid expression"),
        (#"[[1,"==","x"]]"#, "invalid expression"),
        (#"["OR",["arg_name","==","x"]]"#, "rule too short"),
        (#"[[]]"#, "rule too short"),
        (#"[["remote_addr","ipmatch",""]]"#, "invalid ip address"),
        (#"[["remote_addr","ipmatch",["300.1.1.1"]]]"#, "invalid ip address: 300.1.1.1"),
    ])
    func rejects(_ rule: String, _ message: String) throws {
        #expect(throws: ExprError(message)) { try Expr(json(rule)) }
    }

    /// Lua's `tonumber` for decimal text.
    @Test func numbers() {
        func n(_ s: String) -> Double? { var s = s; return s.withUTF8 { Expr.number(UnsafeRawBufferPointer($0)) } }
        #expect(n("20") == 20)
        #expect(n(" -1.5 ") == -1.5)
        #expect(n("1e3") == 1000)
        #expect(n("123.456") == 123.456)
        #expect(n("0.1") == 0.1)
        #expect(n("") == nil)
        #expect(n("1a") == nil)
        #expect(n(".") == nil)
        #expect(n("1e") == nil)
    }

    @Test func regexCompileErrors() {
        #expect(throws: PCRERegexError.self) { try PCRERegex("(unclosed") }
        let r = try? PCRERegex("^a+b$")
        #expect(r?.matches("aaab") == true)
        #expect(r?.matches("ab c") == false)
        #expect(r?.matches("") == false)
    }
}
