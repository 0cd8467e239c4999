// sluice-function: a stand-in for CNCF OpenFunction functions and their 0.5-0.6 gateway
// (openfunction.md; apisix-compat.md section 2, FN-HEADER / FN-URI / FN-BODY). `--help` lists options.
//
//   sluice-function [--mode hello|body|header|gateway] [--port N] [--host 127.0.0.1]
//                   [--basic user:pass] [--delay MS] [--https --cert FILE --key FILE]
//                   [--functions name=mode,...] [--idle-timeout S] [--verbose]
//
// Default ports are APISIX CI's (header 30583, hello 30584, body 30585) and the docs' gateway
// (3233); `--port 0` takes any free port. Once listening it prints `listening on HOST:PORT` on
// stdout (unbuffered); SIGTERM/SIGINT make it exit 0. Responses copy Go's net/http: sniffed
// Content-Type, `Date`, `Content-Length`, http.NotFound's `404 page not found\n` with nosniff, a 400
// `400 Bad Request` + close for a bad `%` escape. HTTP/1.1 keep-alive, pipelining, chunked and
// Content-Length request bodies and 100-continue come from evhttp.
//
// Precedence per request: `/_standin/...` (stats; never delayed or authenticated) > bad escape 400 >
// `--basic` 401 > gateway routing (unknown function 404) > the function, which alone is delayed.
//
// `GET /_standin/stats` -> `{"connections":N,"requests":M,"open":K,"accepted":A}`:
//   connections  connections that carried at least one function request (keep-alive reuse shows
//                as requests > connections; stats requests never count here)
//   requests     function requests (everything outside /_standin/), counted when read
//   open         of those connections, the ones still open (a client's idle keep-alive pool)
//   accepted     every accepted TCP connection, stats probes and failed TLS handshakes included
//
// A self-signed certificate for localhost and 127.0.0.1 (what the tests run):
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem \
//     -out cert.pem -days 365 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1
//
// Known gaps: methods evhttp does not know (e.g. PURGE) get its 501 Not Implemented page, and an absolute-form
// request target (`GET http://host/path`) is answered, then the connection is closed (evhttp treats
// it as a proxy request) without a `Connection: close` header.
#if canImport(Glibc)
internal import Glibc
#endif

/// Parses the command line, starts the server and returns the exit status: 0 after SIGTERM/SIGINT,
/// 1 when it cannot start, 2 on a usage error.
func standInMain(_ arguments: [String]) -> Int32 {
    let options: Options
    do {
        options = try Options.parse(arguments)
    } catch {
        writeAll(2, "sluice-function: \(error.message)\n\(Options.usage)")
        return 2
    }
    if options.help {
        writeAll(1, Options.usage)
        return 0
    }
    do {
        return try Server(options: options).run()
    } catch {
        writeAll(2, "sluice-function: \(error.message)\n")
        return 1
    }
}

exit(standInMain(Array(CommandLine.arguments.dropFirst())))
