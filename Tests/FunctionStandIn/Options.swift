// The command line of `sluice-function`: which function shape to serve, where, and how.

/// What a single function does with a request (the three servers APISIX's CI runs).
enum FunctionKind: String, CaseIterable {
    /// `function-sample` (route `/{greeting}`): `Hello, <segment>!\n`, Go's 404 otherwise.
    case hello
    /// Body echo (APISIX CI `test-body`): `Hello, <raw request body>!\n` on any path.
    case body
    /// Authorization echo (APISIX CI `test-header`): the values Go-style, `[v1 v2]` / `[]`.
    case header
}

/// What the whole server is: one function, or the OpenFunction 0.5-0.6 gateway in front of several.
enum Mode: Equatable {
    /// A single function answers every path.
    case function(FunctionKind)
    /// `/<namespace>/<function>[/<rest>]` is dispatched to the named function, which sees `/<rest>`.
    case gateway

    /// The mode named on the command line (`hello`, `body`, `header`, `gateway`).
    init?(name: String) {
        if name == "gateway" {
            self = .gateway
        } else if let kind = FunctionKind(rawValue: name) {
            self = .function(kind)
        } else {
            return nil
        }
    }

    /// The port used without `--port`: the ports of APISIX's CI functions (header 30583, hello
    /// 30584, body 30585) and of the gateway in APISIX's docs (3233), so their examples work as written.
    var defaultPort: Int {
        switch self {
        case .function(.header): 30583
        case .function(.hello): 30584
        case .function(.body): 30585
        case .gateway: 3233
        }
    }
}

/// A command-line mistake; the message is shown with the usage text.
struct UsageError: Error {
    /// What was wrong.
    var message: String
}

/// Everything the command line can set.
struct Options {
    /// The function shape (or gateway) served.
    var mode: Mode = .function(.hello)
    /// The address to listen on; loopback unless asked otherwise.
    var host = "127.0.0.1"
    /// The port; nil means ``Mode/defaultPort``. 0 picks a free port (printed on the ready line).
    var port: Int?
    /// `user:pass` a request must present as HTTP Basic credentials, if any.
    var basic: String?
    /// Milliseconds to wait before a function answers (a cold start).
    var delayMilliseconds = 0
    /// Serve HTTPS instead of HTTP.
    var https = false
    /// PEM certificate (chain) file for `--https`.
    var certPath: String?
    /// PEM private key file for `--https`.
    var keyPath: String?
    /// The gateway's function table (name to shape); `--functions` overrides or extends it.
    var functions: [String: FunctionKind] = [
        "function-sample": .hello, "test-body": .body, "test-header": .header,
    ]
    /// Log one line per request to stderr.
    var verbose = false
    /// Seconds a connection may sit idle (or a read/write may stall) before the server closes it.
    /// Long by default so that a client's keep-alive pool, not this server, decides when to close.
    var idleTimeoutSeconds = 600
    /// Only print the usage text.
    var help = false

    /// The port actually requested.
    var effectivePort: Int { port ?? mode.defaultPort }

    /// The usage text.
    static let usage = """
        usage: sluice-function [--mode hello|body|header|gateway] [--port N] [--host ADDR]
                               [--basic USER:PASS] [--delay MS] [--https --cert FILE --key FILE]
                               [--functions NAME=MODE,...] [--idle-timeout S] [--verbose]

        A stand-in for CNCF OpenFunction functions (Sluice's openfunction plugin talks to it).
          --mode hello     function-sample: ANY /<segment> -> 200 "Hello, <segment>!\\n" (default; port 30584)
          --mode body      any path -> 200 "Hello, <request body>!\\n" (port 30585)
          --mode header    any path -> 200 the Authorization values, Go-style "[v1 v2]" (port 30583)
          --mode gateway   /<namespace>/<function>[/<rest>] -> that function with path /<rest> (port 3233);
                           functions: function-sample=hello, test-body=body, test-header=header
          --functions      add or override gateway functions, e.g. --functions greet=hello,echo=body
          --port N         listen port (0: any free port); --host ADDR: listen address (127.0.0.1)
          --basic U:P      require "Authorization: Basic base64(U:P)", else 401
          --delay MS       wait MS milliseconds before each function answers (cold start)
          --https          serve TLS with --cert and --key (PEM). A self-signed cert for localhost:
                             openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \\
                               -keyout key.pem -out cert.pem -days 365 -subj /CN=localhost \\
                               -addext subjectAltName=DNS:localhost,IP:127.0.0.1
          --idle-timeout S close connections idle for S seconds (600)
          --verbose        log one line per request to stderr
        GET /_standin/stats -> {"connections":N,"requests":M,"open":K,"accepted":A} (never delayed
        or authenticated). Prints "listening on HOST:PORT" once ready; SIGTERM/SIGINT exit 0.

        """

    /// Parses the arguments after the program name. Accepts `--name value` and `--name=value`.
    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var index = 0
        while index < arguments.count {
            var name = arguments[index]
            var inlineValue: String?
            if name.hasPrefix("--"), let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            index += 1
            func value() throws(UsageError) -> String {
                if let inlineValue { return inlineValue }
                guard index < arguments.count else { throw UsageError(message: "\(name) needs a value") }
                defer { index += 1 }
                return arguments[index]
            }
            func integer(_ range: ClosedRange<Int>) throws(UsageError) -> Int {
                let text = try value()
                guard let number = Int(text), range.contains(number) else {
                    throw UsageError(message: "\(name): \(text) is not a number in \(range.lowerBound)...\(range.upperBound)")
                }
                return number
            }
            switch name {
            case "--mode":
                let text = try value()
                guard let mode = Mode(name: text) else { throw UsageError(message: "unknown mode \(text)") }
                options.mode = mode
            case "--port": options.port = try integer(0...65535)
            case "--host": options.host = try value()
            case "--basic":
                let credentials = try value()
                guard credentials.contains(":") else { throw UsageError(message: "--basic wants user:pass") }
                options.basic = credentials
            case "--delay": options.delayMilliseconds = try integer(0...86_400_000)
            case "--https": options.https = true
            case "--cert": options.certPath = try value()
            case "--key": options.keyPath = try value()
            case "--functions":
                for entry in try value().split(separator: ",") {
                    let parts = entry.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, !parts[0].isEmpty, let kind = FunctionKind(rawValue: String(parts[1])) else {
                        throw UsageError(message: "--functions: \(entry) is not name=hello|body|header")
                    }
                    options.functions[String(parts[0])] = kind
                }
            case "--idle-timeout": options.idleTimeoutSeconds = try integer(1...86_400)
            case "--verbose", "-v": options.verbose = true
            case "--help", "-h": options.help = true
            default: throw UsageError(message: "unknown argument \(name)")
            }
        }
        if options.https && (options.certPath == nil || options.keyPath == nil) {
            throw UsageError(message: "--https needs --cert FILE and --key FILE")
        }
        return options
    }
}
