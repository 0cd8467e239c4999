import Shared
import Testing
import Worker

@Suite struct RouterTests {
    // MARK: - Paths

    /// router-radixtree.md's precedence table (spec 4.4).
    @Test(arguments: [
        ("/blog/foo/bar", "exact"),
        ("/blog/foo/a/b/c", "foo-a"),
        ("/blog/foo/gloo", "foo"),
        ("/blog/bar", nil),
    ] as [(String, String?)])
    func documentedPrecedence(path: String, expected: String?) {
        let routes = [
            route("foo", "/blog/foo/*"),
            route("foo-a", "/blog/foo/a/*"),
            route("foo-c", "/blog/foo/c/*"),
            route("exact", "/blog/foo/bar"),
        ]
        #expect(Router(routes: routes).resolve(routes, path)?.id == expected)
    }

    /// An exact path beats any prefix, whatever the priorities.
    @Test func exactBeatsPrefix() {
        let routes = [route("prefix", "/a/*", priority: 100), route("exact", "/a/b", priority: -5)]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/a/b")?.id == "exact")
        #expect(router.resolve(routes, "/a/bc")?.id == "prefix")
    }

    /// Prefixes are tried longest first; priority does not reorder different prefixes.
    @Test func longestPrefixFirst() {
        let routes = [route("short", "/a/*", priority: 10), route("long", "/a/b/*")]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/a/b/c")?.id == "long")
        #expect(router.resolve(routes, "/a/c")?.id == "short")
    }

    /// A longer prefix that fails (method) falls back to a shorter one.
    @Test func failedLongPrefixFallsBack() {
        let routes = [route("short", "/a/*"), route("long", "/a/b/*", methods: ["POST"])]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/a/b/c")?.id == "short")
        #expect(router.resolve(routes, "/a/b/c", method: "POST")?.id == "long")
    }

    /// Same prefix: higher priority first, then the longer uri, then insertion order.
    @Test func samePrefixOrdering() {
        let byPriority = [route("low", "/a/*", priority: 1), route("high", "/a/*", priority: 5)]
        #expect(Router(routes: byPriority).resolve(byPriority, "/a/x")?.id == "high")

        let byLength = [route("short", "/a/*"), route("long", "/a/*name")]
        #expect(Router(routes: byLength).resolve(byLength, "/a/x")?.id == "long")

        let byOrder = [route("first", "/a/*"), route("second", "/a/*")]
        #expect(Router(routes: byOrder).resolve(byOrder, "/a/x")?.id == "first")

        let negative = [route("negative", "/a/*", priority: -1), route("default", "/a/*")]
        #expect(Router(routes: negative).resolve(negative, "/a/x")?.id == "default")
    }

    /// Same exact path: priority decides, and a candidate whose method fails is skipped.
    @Test func sameExactPath() {
        let routes = [
            route("get", "/x", methods: ["GET"]),
            route("post", "/x", methods: ["POST"], priority: 10),
        ]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/x")?.id == "get")
        #expect(router.resolve(routes, "/x", method: "POST")?.id == "post")
        #expect(router.resolve(routes, "/x", method: "DELETE") == nil)
    }

    /// Trailing slashes are significant, for exact and prefix uris.
    @Test func trailingSlash() {
        let routes = [route("hello", "/hello"), route("bar", "/blog/bar/*"), route("star", "/blog/baz*")]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/hello")?.id == "hello")
        #expect(router.resolve(routes, "/hello/") == nil)
        #expect(router.resolve(routes, "/blog/bar") == nil)
        #expect(router.resolve(routes, "/blog/bar/")?.id == "bar")
        #expect(router.resolve(routes, "/blog/baz")?.id == "star")
        #expect(router.resolve(routes, "/blog/bazx")?.id == "star")
        #expect(router.resolve(routes, "/blog/baz/a")?.id == "star")
    }

    /// `:` is literal (no parameters in radixtree_host_uri).
    @Test func colonIsLiteral() {
        let routes = [route("literal", "/user/:id")]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/user/:id")?.id == "literal")
        #expect(router.resolve(routes, "/user/42") == nil)
    }

    /// Each of a route's uris matches on its own and reports the route's index.
    @Test func multipleURIs() {
        let routes = [route("other", "/z"), route("multi", "/a", "/b/*", "/c")]
        let router = Router(routes: routes)
        for path in ["/a", "/b/x", "/c"] { #expect(router.resolve(routes, path)?.id == "multi") }
        #expect(router.resolve(routes, "/d") == nil)
    }

    /// A route with `status: 0` never matches; the next candidate does.
    @Test func disabledRouteSkipped() {
        let routes = [route("off", "/x", priority: 9, enabled: false), route("on", "/x")]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/x")?.id == "on")
        let alone = [route("off", "/x", enabled: false)]
        #expect(Router(routes: alone).resolve(alone, "/x") == nil)
    }

    /// No routes at all: nothing matches.
    @Test func emptyRouter() {
        #expect(Router(routes: []).resolve([], "/") == nil)
    }

    // MARK: - Captures

    /// `:ext` is what the whole-segment `*` matched (spec 4.3).
    @Test(arguments: [
        ("/hello/*", "/hello/a/b", "a/b"),
        ("/hello/*", "/hello/", ""),
        ("/*", "/x/y", "x/y"),
        ("/*", "/", ""),
        ("/hello*", "/hello/a", nil),
        ("/hello*", "/hello", nil),
        ("/foo/*name", "/foo/a", nil),
        ("/foo/*/bar", "/foo/x/y/bar", "x/y"),
    ] as [(String, String, String?)])
    func extCapture(uri: String, path: String, ext: String?) {
        let routes = [route("r", uri)]
        #expect(Router(routes: routes).resolve(routes, path) == Resolved(id: "r", ext: ext))
    }

    /// A whole-segment `*` inside the uri must match, as radixtree's full-path regex requires.
    @Test func middleStarIsAGlob() {
        let routes = [route("mid", "/foo/*/bar"), route("two", "/a/*/b/*")]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/foo/x/bar")?.id == "mid")
        #expect(router.resolve(routes, "/foo/x") == nil)
        #expect(router.resolve(routes, "/foo/bar") == nil)
        #expect(router.resolve(routes, "/a/x/b/y") == Resolved(id: "two", ext: nil))
        #expect(router.resolve(routes, "/a/x/c/y") == nil)
    }

    // MARK: - Methods

    /// A method mismatch is no match at all (APISIX has no 405); methods are case-sensitive.
    @Test func methods() {
        let routes = [route("rw", "/x", methods: ["PUT", "PATCH", "PURGE"])]
        let router = Router(routes: routes)
        for method in ["PUT", "PATCH", "PURGE"] { #expect(router.resolve(routes, "/x", method: method)?.id == "rw") }
        for method in ["GET", "put", "PROPFIND", ""] { #expect(router.resolve(routes, "/x", method: method) == nil) }
        let any = [route("any", "/x")]
        #expect(Router(routes: any).resolve(any, "/x", method: "PROPFIND")?.id == "any")
    }

    // MARK: - Hosts

    /// A route with hosts beats a host-less route whatever the priorities; a host route whose
    /// path does not match leaves the host-less routes their chance.
    @Test func hostRoutesFirst() {
        let routes = [
            route("plain", "/api/v1", priority: 100),
            route("hosted", "/api/*", hosts: ["foo.com"]),
        ]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/api/v1", host: "foo.com")?.id == "hosted")
        #expect(router.resolve(routes, "/api/v1", host: "bar.com")?.id == "plain")
        #expect(router.resolve(routes, "/other", host: "foo.com") == nil)
        let fallback = [route("plain", "/other"), route("hosted", "/api/*", hosts: ["foo.com"])]
        #expect(Router(routes: fallback).resolve(fallback, "/other", host: "foo.com")?.id == "plain")
    }

    /// `*.foo.com` matches subdomains only; exact hosts before wildcards, longer suffixes first,
    /// `*` last of the host routes but still before host-less ones.
    @Test func wildcardHosts() {
        let routes = [
            route("any", "/x", hosts: ["*"], priority: 50),
            route("sub", "/x", hosts: ["*.foo.com"], priority: 20),
            route("deep", "/x", hosts: ["*.b.foo.com"]),
            route("exact", "/x", hosts: ["a.b.foo.com"]),
            route("plain", "/x", priority: 99),
        ]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/x", host: "a.b.foo.com")?.id == "exact")
        #expect(router.resolve(routes, "/x", host: "c.b.foo.com")?.id == "deep")
        #expect(router.resolve(routes, "/x", host: "c.foo.com")?.id == "sub")
        #expect(router.resolve(routes, "/x", host: "foo.com")?.id == "any")
        #expect(router.resolve(routes, "/x", host: "example.org")?.id == "any")
        #expect(router.resolve(routes, "/x", host: "")?.id == "any")
    }

    /// Without a `*` route, a host matching no route host goes to the host-less routes.
    @Test func wildcardDoesNotMatchApex() {
        let routes = [route("sub", "/x", hosts: ["*.foo.com"]), route("plain", "/x")]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/x", host: "foo.com")?.id == "plain")
        #expect(router.resolve(routes, "/x", host: "xfoo.com")?.id == "plain")
        #expect(router.resolve(routes, "/x", host: "a.foo.com")?.id == "sub")
    }

    /// The request host is compared like nginx's `$host`: any case, no port, no trailing dot,
    /// IPv6 literals with their brackets.
    @Test(arguments: ["foo.com", "FOO.com", "foo.com:8080", "Foo.Com:80", "foo.com.", "foo.com.:443"])
    func hostNormalization(host: String) {
        let routes = [route("r", "/x", hosts: ["foo.com"])]
        #expect(Router(routes: routes).resolve(routes, "/x", host: host)?.id == "r")
    }

    /// IPv6 and IPv4 literal hosts.
    @Test func literalHosts() {
        let routes = [route("v6", "/x", hosts: ["[::1]"]), route("v4", "/x", hosts: ["127.0.0.1"])]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/x", host: "[::1]:80")?.id == "v6")
        #expect(router.resolve(routes, "/x", host: "[::1]")?.id == "v6")
        #expect(router.resolve(routes, "/x", host: "127.0.0.1:9080")?.id == "v4")
        #expect(router.resolve(routes, "/x", host: "[::2]") == nil)
    }

    /// Route hosts written in upper case still match (they are lower-cased at build).
    @Test func routeHostCase() {
        let routes = [route("r", "/x", hosts: ["*.Foo.COM"])]
        #expect(Router(routes: routes).resolve(routes, "/x", host: "a.foo.com")?.id == "r")
    }

    /// One route with several hosts is reachable through each.
    @Test func routeWithSeveralHosts() {
        let routes = [route("r", "/x", hosts: ["a.com", "*.b.com"]), route("plain", "/x")]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/x", host: "a.com")?.id == "r")
        #expect(router.resolve(routes, "/x", host: "z.b.com")?.id == "r")
        #expect(router.resolve(routes, "/x", host: "c.com")?.id == "plain")
    }

    // MARK: - remote_addrs

    /// `remote_addrs` entries: single addresses and CIDR blocks, v4 and v6; no address, no match.
    @Test func remoteAddrs() {
        let routes = [
            route("v4", "/x", remoteAddrs: ["10.0.0.0/8", "192.168.1.7"], priority: 2),
            route("v6", "/x", remoteAddrs: ["::1", "fe80::/10"], priority: 1),
            route("rest", "/x"),
        ]
        let router = Router(routes: routes)
        #expect(router.resolve(routes, "/x", remote: "10.20.30.40")?.id == "v4")
        #expect(router.resolve(routes, "/x", remote: "192.168.1.7")?.id == "v4")
        #expect(router.resolve(routes, "/x", remote: "192.168.1.8")?.id == "rest")
        #expect(router.resolve(routes, "/x", remote: "::1")?.id == "v6")
        #expect(router.resolve(routes, "/x", remote: "fe80::abcd")?.id == "v6")
        #expect(router.resolve(routes, "/x", remote: "fec0::1")?.id == "rest")
        #expect(router.resolve(routes, "/x", remote: nil)?.id == "rest")
    }

    /// A route with an unparsable `remote_addrs` entry fails closed.
    @Test func invalidRemoteAddrNeverMatches() {
        let routes = [route("bad", "/x", remoteAddrs: ["10.0.0.0/33"]), route("rest", "/x")]
        #expect(Router(routes: routes).resolve(routes, "/x", remote: "10.0.0.1")?.id == "rest")
    }

    // MARK: - Scale

    /// 10,000 routes (exact, prefix and hosted) build and every one of them is found.
    @Test func tenThousandRoutes() {
        var routes: [Route] = []
        for index in 0 ..< 10_000 {
            switch index % 4 {
            case 0: routes.append(route("e\(index)", "/svc/\(index)/items"))
            case 1: routes.append(route("p\(index)", "/svc/\(index)/*"))
            case 2: routes.append(route("h\(index)", "/svc/\(index)", hosts: ["h\(index).example.com"]))
            default: routes.append(route("w\(index)", "/w/\(index)/*", hosts: ["*.w\(index).example.com"]))
            }
        }
        let router = Router(routes: routes)
        for index in 0 ..< 10_000 {
            switch index % 4 {
            case 0: #expect(router.resolve(routes, "/svc/\(index)/items")?.id == "e\(index)")
            case 1: #expect(router.resolve(routes, "/svc/\(index)/a/b") == Resolved(id: "p\(index)", ext: "a/b"))
            case 2:
                #expect(router.resolve(routes, "/svc/\(index)", host: "h\(index).example.com")?.id == "h\(index)")
                #expect(router.resolve(routes, "/svc/\(index)") == nil)
            default:
                #expect(router.resolve(routes, "/w/\(index)/q", host: "a.w\(index).example.com")?.id == "w\(index)")
            }
        }
        #expect(router.resolve(routes, "/svc/10001/items") == nil)
    }
}

@Suite struct RouterScaleTests {
    /// 10,000 routes build and a repeated lookup keeps finding its route. Timings are printed, not
    /// asserted: speed is measured by benchmarks/, never by timed tests.
    @Test func buildAndMatchTime() {
        var routes: [Route] = []
        for index in 0 ..< 10_000 {
            var item = route("r\(index)", index % 2 == 0 ? "/api/v\(index % 7)/res\(index)/*" : "/api/v\(index % 7)/res\(index)")
            if index % 5 == 0 { item.hosts = ["*.t\(index % 50).example.com"] }
            if index % 3 == 0 { item.methods = ["GET", "POST"] }
            routes.append(item)
        }
        let clock = ContinuousClock()
        var router: Router?
        let buildTime = clock.measure { router = Router(routes: routes) }

        var path = "/api/v2/res9998/deep/er/path"
        var host = "x.t10.example.com:8080"
        var method = "GET"
        let iterations = 20_000
        var found = 0
        let matchTime = path.withUTF8 { pathBytes in
            host.withUTF8 { hostBytes in
                method.withUTF8 { methodBytes in
                    clock.measure {
                        for _ in 0 ..< iterations {
                            if router!.match(method: UnsafeRawBufferPointer(methodBytes),
                                             host: UnsafeRawBufferPointer(hostBytes),
                                             path: UnsafeRawBufferPointer(pathBytes), remote: nil) != nil {
                                found += 1
                            }
                        }
                    }
                }
            }
        }
        #expect(found == iterations)
        print("router: 10,000 routes built in \(buildTime), match \(matchTime / iterations)")
    }
}
