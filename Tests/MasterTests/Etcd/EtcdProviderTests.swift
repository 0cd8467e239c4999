#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Shared
import Testing
import TestSupport

/// The `etcd` provider against a real etcd (Debian's etcd-server 3.4): nodes sharing one config,
/// APISIX's key layout, etcd going away and coming back, compaction, a large config.
@Suite(.serialized, .requires(EtcdServer.binary))
struct EtcdProviderTests {
    static let upstreamBody = "from upstream"

    /// A write on A's Admin API is served by B's proxy; indexes are etcd's revisions; POST ids
    /// come from `/apisix/gen_id`; PATCH and DELETE on B reach A.
    @Test func twoNodesShareOneConfiguration() throws {
        let upstream = try TestUpstream(recording: false) { _ in .text(Self.upstreamBody) }
        defer { upstream.stop() }
        let etcd = try EtcdServer()
        let a = try EtcdNode(etcd: etcd), b = try EtcdNode(etcd: etcd, workers: 2)
        #expect(a.waitForSync() && b.waitForSync())

        let created = try a.admin("PUT", "/upstreams/u1", #"{"nodes":{"\#(upstream.address)":1},"type":"roundrobin"}"#)
        #expect(created.status == 201)
        #expect(try a.admin("PUT", "/upstreams/u1", #"{"nodes":{"\#(upstream.address)":1},"type":"roundrobin"}"#).status == 200)
        #expect(try a.admin("PUT", "/routes/1", #"{"uri":"/shared","upstream_id":"u1"}"#).status == 201)
        #expect(b.waitForStatus("/shared", 200))
        #expect(b.proxy("/shared")?.bodyText == Self.upstreamBody)

        // APISIX's layout and values; createdIndex/modifiedIndex are etcd's revisions, on both nodes.
        let stored = try #require(try etcd.get("/apisix/routes/1"))
        let value = try JSONValue.parse(stored.value)
        #expect(value["uri"] == "/shared" && value["id"] == "1" && value["create_time"] != nil)
        #expect(b.sluice.waitUntil { (try? b.admin("GET", "/routes/1"))?.status == 200 })
        for node in [a, b] {
            let fetched = try node.admin("GET", "/routes/1").json
            #expect(fetched["createdIndex"]?.intValue == stored.created)
            #expect(fetched["modifiedIndex"]?.intValue == stored.modified)
            #expect(fetched["key"] == "/apisix/routes/1")
        }

        // POST on B: a 20-digit id, the revision of the write to /apisix/gen_id.
        let posted = try b.admin("POST", "/routes", #"{"uri":"/posted","upstream_id":"u1"}"#)
        #expect(posted.status == 201)
        let id = try #require(posted.json["value"]?["id"]?.stringValue)
        #expect(id.count == 20 && id.allSatisfy(\.isNumber))
        #expect(try etcd.get("/apisix/gen_id") != nil)
        #expect(Int(id) == (try etcd.get("/apisix/gen_id"))?.modified)
        #expect(a.waitForStatus("/posted", 200))

        // PATCH on B (compare-and-swap), seen by A; DELETE on B, seen by A.
        let patched = try b.admin("PATCH", "/routes/1", #"{"uri":"/patched"}"#)
        #expect(patched.status == 200)
        #expect(patched.json["value"]?["uri"] == "/patched")
        #expect(a.waitForStatus("/patched", 200))
        #expect(a.proxy("/shared")?.status == 404)
        #expect(try b.admin("DELETE", "/routes/1").status == 200)
        #expect(try b.admin("DELETE", "/routes/1").status == 404)
        #expect(a.waitForStatus("/patched", 404))
        #expect(try a.admin("GET", "/routes/1").status == 404)
        // Delete protection uses the shared copy: B refuses deleting the upstream A's route uses.
        #expect(b.sluice.waitUntil { (try? b.admin("GET", "/routes/\(id)"))?.status == 200 })
        let refused = try b.admin("DELETE", "/upstreams/u1")
        #expect(refused.status == 400)
        #expect(refused.bodyText.contains("can not delete this upstream, route [\(id)] is still using it now"))
    }

    /// A value written straight to etcd, as APISIX writes it, is served; an invalid one is skipped
    /// with an error line (the previous valid value keeps serving); directory markers and gen_id
    /// are ignored.
    @Test func directWritesAreValidatedLikeAdminWrites() throws {
        let upstream = try TestUpstream(recording: false) { _ in .text(Self.upstreamBody) }
        defer { upstream.stop() }
        let etcd = try EtcdServer()
        try etcd.put("/apisix/routes/", "init_dir")
        try etcd.put("/apisix/upstreams/", "init_dir")
        let node = try EtcdNode(etcd: etcd)
        #expect(node.waitForSync())

        // apisix/admin/routes.lua stores this shape (id, timestamps, inline upstream).
        try etcd.put("/apisix/routes/x", #"{"id":"x","uri":"/x","create_time":1700000000,"update_time":1700000000,"upstream":{"type":"roundrobin","nodes":{"\#(upstream.address)":1},"hash_on":"vars","scheme":"http","pass_host":"pass"}}"#)
        #expect(node.waitForStatus("/x", 200))
        #expect(node.proxy("/x")?.bodyText == Self.upstreamBody)

        try etcd.put("/apisix/routes/x", #"{"uri":["/not-a-string"],"upstream_id":"u1"}"#)
        try etcd.put("/apisix/routes/bad", #"{"uri":"/bad","upstream_id":"missing"}"#)
        try etcd.put("/apisix/routes/junk", "not json")
        try etcd.put("/apisix/routes/y", #"{"uri":"/y","upstream":{"type":"roundrobin","nodes":{"\#(upstream.address)":1}}}"#)
        #expect(node.waitForStatus("/y", 200))
        #expect(node.proxy("/x")?.status == 200, "the previous valid value keeps serving")
        #expect(node.proxy("/bad")?.status == 404)
        let log = node.sluice.errorLog
        #expect(log.contains("etcd: skipped invalid /apisix/routes/x"))
        #expect(log.contains(#"skipped invalid /apisix/routes/bad (mod_revision"#)
            && log.contains("failed to fetch upstream info by upstream id [missing], response code: 404"))
        #expect(log.contains("skipped invalid /apisix/routes/junk") && log.contains("invalid JSON"))
        let listed = try node.admin("GET", "/routes").json["list"]?.arrayValue?.compactMap { $0["key"]?.stringValue }
        #expect(listed == ["/apisix/routes/x", "/apisix/routes/y"])
        // A delete made directly is applied too.
        try etcd.delete("/apisix/routes/y")
        #expect(node.waitForStatus("/y", 404))
    }

    /// etcd stopped mid-test: workers keep serving, the Admin API answers 503 with the reason;
    /// etcd restarted: writes work again and the other node catches up.
    @Test func etcdStoppedAndRestarted() throws {
        let upstream = try TestUpstream(recording: false) { _ in .text(Self.upstreamBody) }
        defer { upstream.stop() }
        let etcd = try EtcdServer()
        let a = try EtcdNode(etcd: etcd), b = try EtcdNode(etcd: etcd)
        #expect(a.waitForSync() && b.waitForSync())
        let route = #"{"uri":"/before","upstream":{"type":"roundrobin","nodes":{"\#(upstream.address)":1}}}"#
        #expect(try a.admin("PUT", "/routes/before", route).status == 201)
        #expect(b.waitForStatus("/before", 200))

        etcd.stop()
        #expect(b.sluice.waitUntil { (try? b.admin("GET", "/routes"))?.status == 503 })
        for _ in 0..<20 { #expect(b.proxy("/before")?.status == 200) }
        let refused = try a.admin("PUT", "/routes/during", route.replacingOccurrences(of: "/before", with: "/during"))
        #expect(refused.status == 503)
        #expect(refused.bodyText.contains("error_msg") && refused.bodyText.contains("127.0.0.1:\(etcd.clientPort)"))
        #expect(b.sluice.errorLog.contains("etcd: "))

        try etcd.start()
        #expect(a.sluice.waitUntil(timeout: 10) { (try? a.admin("GET", "/routes"))?.status == 200 })
        #expect(try a.admin("PUT", "/routes/after", route.replacingOccurrences(of: "/before", with: "/after")).status == 201)
        #expect(b.waitForStatus("/after", 200))
        #expect(b.proxy("/before")?.status == 200)
        #expect(b.sluice.errorLog.contains("etcd: watching /apisix/ from revision"))
    }

    /// While B's control process is stopped, etcd restarts, keys change and history is compacted:
    /// B's watch resumes at a compacted revision and re-reads everything.
    @Test func compactionForcesFullRead() throws {
        let upstream = try TestUpstream(recording: false) { _ in .text(Self.upstreamBody) }
        defer { upstream.stop() }
        let etcd = try EtcdServer()
        let node = try EtcdNode(etcd: etcd)
        #expect(node.waitForSync())
        let route = { (uri: String) in #"{"uri":"\#(uri)","upstream":{"type":"roundrobin","nodes":{"\#(upstream.address)":1}}}"# }
        try etcd.put("/apisix/routes/old", route("/old"))
        try etcd.put("/apisix/routes/kept", route("/kept"))
        #expect(node.waitForStatus("/old", 200) && node.waitForStatus("/kept", 200))

        let control = try #require(node.controlPid)
        kill(control, SIGSTOP)
        etcd.stop()
        try etcd.start()
        try etcd.delete("/apisix/routes/old")
        try etcd.put("/apisix/routes/new", route("/new"))
        let compacted = try etcd.compact()
        kill(control, SIGCONT)

        #expect(node.waitForStatus("/new", 200))
        #expect(node.waitForStatus("/old", 404))
        #expect(node.proxy("/kept")?.status == 200)
        let log = node.sluice.errorLog
        #expect(log.contains("(compact_revision \(compacted))"))
        #expect(log.contains("etcd: reading everything under /apisix/ (compacted)"))
        #expect(try node.admin("GET", "/routes").json["total"] == 2)
    }

    /// etcd replaced by an empty cluster (its revision goes back): everything is re-read, and
    /// the routes it no longer has stop being served.
    @Test func revisionGoingBackForcesFullRead() throws {
        let upstream = try TestUpstream(recording: false) { _ in .text(Self.upstreamBody) }
        defer { upstream.stop() }
        let etcd = try EtcdServer()
        let node = try EtcdNode(etcd: etcd)
        #expect(node.waitForSync())
        let route = #"{"uri":"/r","upstream":{"type":"roundrobin","nodes":{"\#(upstream.address)":1}}}"#
        for index in 0..<20 { try etcd.put("/apisix/routes/r\(index)", route.replacingOccurrences(of: "/r", with: "/r\(index)")) }
        #expect(node.waitForStatus("/r19", 200))
        let control = try #require(node.controlPid)
        kill(control, SIGSTOP)
        etcd.stop()
        try FileManager.default.removeItem(atPath: etcd.dataDirectory + "/data")
        try etcd.start()
        try etcd.put("/apisix/routes/fresh", route.replacingOccurrences(of: "/r", with: "/fresh"))
        kill(control, SIGCONT)
        #expect(node.waitForStatus("/fresh", 200))
        #expect(node.waitForStatus("/r19", 404))
        #expect(node.sluice.errorLog.contains("etcd: reading everything under /apisix/ (revision went back)"))
    }

    /// A node restarted while etcd is down serves the snapshot it published last (kept in data/),
    /// answers 503 on the Admin API, and catches up once etcd is back.
    @Test func restartWhileEtcdIsDownServesTheLastSnapshot() throws {
        let upstream = try TestUpstream(recording: false) { _ in .text(Self.upstreamBody) }
        defer { upstream.stop() }
        let etcd = try EtcdServer()
        let first = try EtcdNode(etcd: etcd)
        #expect(first.waitForSync())
        let route = #"{"uri":"/kept","upstream":{"type":"roundrobin","nodes":{"\#(upstream.address)":1}}}"#
        #expect(try first.admin("PUT", "/routes/kept", route).status == 201)
        #expect(first.waitForStatus("/kept", 200))
        etcd.stop()
        first.sluice.stop()
        let snapshot = first.sluice.readFile("data/snapshot.json")
        #expect(snapshot.contains("/kept"))

        let second = try EtcdNode(etcd: etcd, extraFiles: ["data/snapshot.json": snapshot])
        #expect(second.waitForStatus("/kept", 200))
        let refused = try second.admin("GET", "/routes")
        #expect(refused.status == 503)
        #expect(refused.bodyText.contains("127.0.0.1:\(etcd.clientPort)"))

        try etcd.start()
        try etcd.put("/apisix/routes/later", route.replacingOccurrences(of: "/kept", with: "/later"))
        #expect(second.waitForStatus("/later", 200))
        #expect(second.proxy("/kept")?.status == 200)
    }

    /// 10,000 routes written to etcd load completely (paginated range reads) and are matched.
    @Test func tenThousandRoutesLoad() throws {
        let upstream = try TestUpstream(recording: false) { _ in .text(Self.upstreamBody) }
        defer { upstream.stop() }
        let etcd = try EtcdServer()
        try etcd.put("/apisix/upstreams/1", #"{"type":"roundrobin","nodes":{"\#(upstream.address)":1}}"#)
        let pairs = (0..<10_000).map { ("/apisix/routes/\($0)", #"{"uri":"/r/\#($0)","upstream_id":"1"}"#) }
        try etcd.putMany(pairs)
        let node = try EtcdNode(etcd: etcd)
        #expect(node.sluice.waitUntil(timeout: 60) { node.sluice.errorLog.contains("etcd: loaded 10001 items under /apisix/") })
        #expect(node.waitForStatus("/r/9999", 200, timeout: 30))
        for index in stride(from: 0, to: 10_000, by: 997) { #expect(node.proxy("/r/\(index)")?.status == 200) }
        #expect(node.proxy("/r/10000")?.status == 404)
        #expect(try node.admin("GET", "/routes?page=1&page_size=10").json["total"] == 10_000)
        // A watched change on top of the large config.
        try etcd.put("/apisix/routes/10000", #"{"uri":"/r/10000","upstream_id":"1"}"#)
        #expect(node.waitForStatus("/r/10000", 200, timeout: 30))
    }

    /// Endpoints of the `host` list that refuse connections are skipped, for reads, writes and
    /// the watch alike.
    @Test func unreachableEndpointsAreSkipped() throws {
        let upstream = try TestUpstream(recording: false) { _ in .text(Self.upstreamBody) }
        defer { upstream.stop() }
        let etcd = try EtcdServer()
        let closed = SluiceProcess.freePorts(2).map { "http://127.0.0.1:\($0)" }
        let node = try EtcdNode(etcd: etcd, hosts: [closed[0], etcd.url, closed[1]])
        #expect(node.waitForSync())
        for index in 0..<5 {
            let route = #"{"uri":"/f\#(index)","upstream":{"type":"roundrobin","nodes":{"\#(upstream.address)":1}}}"#
            #expect(try node.admin("PUT", "/routes/f\(index)", route).status == 201)
            try etcd.put("/apisix/routes/d\(index)", route.replacingOccurrences(of: "/f", with: "/d"))
        }
        #expect(node.waitForStatus("/f4", 200) && node.waitForStatus("/d4", 200))
    }

    /// `deployment.etcd` is parsed strictly.
    @Test func etcdSettingsAreChecked() throws {
        let bad = try SluiceProcess(configYAML: EtcdNode.config(hosts: ["https://127.0.0.1:2379"]))
        let result = bad.run(["-t"])
        #expect(result.status != 0)
        #expect(result.output.contains("deployment.etcd.host"))
        let good = try SluiceProcess(configYAML: EtcdNode.config(hosts: ["http://127.0.0.1:2379", "http://localhost:2380"]))
        #expect(good.run(["-t"]).status == 0)
    }
}
