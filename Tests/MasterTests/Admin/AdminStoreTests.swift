#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Shared
import Testing
import TestSupport

/// The `local` store: durability, crash safety, failures, and live apply to every worker.
@Suite struct AdminStoreTests {
    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o777 : 0
    }

    /// Store and snapshot files are 0600; writes survive a restart and revisions keep growing.
    @Test func storeSurvivesRestart() throws {
        let first = try AdminFixture()
        #expect(try first.call("PUT", "/apisix/admin/upstreams/1", #"{"nodes":{"127.0.0.1:1980":1}}"#).status == 201)
        #expect(try first.call("PUT", "/apisix/admin/routes/r", #"{"uri":"/r","upstream_id":"1"}"#).status == 201)
        #expect(try first.call("DELETE", "/apisix/admin/routes/r").status == 200)
        #expect(try first.call("PUT", "/apisix/admin/routes/r", #"{"uri":"/r2","upstream_id":"1"}"#).status == 201)
        #expect(Self.mode(first.sluice.path("data/store.json")) == 0o600)
        #expect(Self.mode(first.sluice.path("data/snapshot.json")) == 0o600)
        let before = try first.call("GET", "/apisix/admin/routes").json
        first.sluice.stop()
        let store = first.sluice.readFile("data/store.json")

        let second = try AdminFixture(storeFile: store)
        #expect(try second.call("GET", "/apisix/admin/routes").json == before)
        let posted = try second.call("POST", "/apisix/admin/upstreams", #"{"nodes":{}}"#)
        #expect(posted.json["value"]?["id"] == "00000000000000000005")
    }

    /// kill -9 of the control process during a stream of writes loses no acknowledged write; the
    /// respawned control process and a later start (after kill -9 of the whole group) serve them all.
    @Test func crashDuringWritesLosesNothingAcknowledged() throws {
        let admin = try AdminFixture()
        var acknowledged: [String: Int] = [:]
        var failures = 0
        let deadline = Date().addingTimeInterval(40)
        var index = 0
        var kills = 0
        while acknowledged.count < 150, Date() < deadline {
            index += 1
            if acknowledged.count == 30 + 40 * kills, kills < 3, let control = admin.sluice.controlPid {
                // From another thread, a moment later: the kill lands in the middle of a write.
                let delay = UInt32(kills) * 700 + 300
                Thread.detachNewThread { usleep(delay); kill(control, SIGKILL) }
                kills += 1
            }
            let id = "u\(index)"
            do {
                let response = try admin.call("PUT", "/apisix/admin/upstreams/\(id)", #"{"nodes":{"127.0.0.1:\#(1000 + index)":1}}"#)
                if response.status == 201 { acknowledged[id] = 1000 + index } else { failures += 1 }
            } catch {
                failures += 1
                usleep(10_000)
            }
        }
        #expect(acknowledged.count == 150)
        #expect(kills >= 3)
        try admin.sluice.waitForPort(admin.sluice.adminPort)
        func check(_ fixture: AdminFixture) throws {
            let list = try fixture.call("GET", "/apisix/admin/upstreams")
            #expect(list.status == 200)
            var served: [String: JSONValue] = [:]
            for item in list.json["list"]?.arrayValue ?? [] {
                if let id = item["value"]?["id"]?.stringValue { served[id] = item["value"]?["nodes"] }
            }
            for (id, port) in acknowledged {
                #expect(served[id] == .object(["127.0.0.1:\(port)": 1]), "acknowledged \(id) missing")
            }
        }
        try check(admin)
        #expect(admin.sluice.errorLog.contains("control process") && admin.sluice.errorLog.contains("exited on signal 9"))

        // The whole group killed at once, then a start on the same files.
        if let master = admin.sluice.pid { killpg(master, SIGKILL) }
        admin.sluice.stop(timeout: 2)
        let store = admin.sluice.readFile("data/store.json")
        #expect(try JSONValue.parse(store)["revision"] != nil)
        let next = try AdminFixture(storeFile: store)
        try check(next)
    }

    /// A store that cannot be written answers 503 with the reason and changes nothing.
    @Test func unwritableStoreAnswers503() throws {
        let admin = try AdminFixture()
        let control = try #require(admin.sluice.controlPid)
        let blocker = admin.sluice.path("data/store.json.tmp.\(control)")
        #expect(mkdir(blocker, 0o700) == 0)
        let refused = try admin.call("PUT", "/apisix/admin/upstreams/1", #"{"nodes":{}}"#)
        #expect(refused.status == 503)
        #expect(refused.bodyText == errorBody("open() \"\(blocker)\" failed (21: Is a directory)"))
        #expect(try admin.call("GET", "/apisix/admin/upstreams/1").status == 404)
        rmdir(blocker)
        let accepted = try admin.call("PUT", "/apisix/admin/upstreams/1", #"{"nodes":{}}"#)
        #expect(accepted.status == 201)
        let fetched = try admin.call("GET", "/apisix/admin/upstreams/1")
        #expect(fetched.json["createdIndex"] == 1)
    }

    /// After a write, requests on fresh connections to every worker see the change; a delete is
    /// seen the same way.
    @Test func writesReachEveryWorker() throws {
        let upstream = try TestUpstream(recording: false) { _ in .text("from upstream") }
        defer { upstream.stop() }
        let admin = try AdminFixture(workers: 2)
        func allServe(_ status: Int, timeout: Double = 3) -> Bool {
            var streak = 0
            return admin.sluice.waitUntil(timeout: timeout) {
                let response = try? admin.proxy("/live")
                streak = response?.status == status ? streak + 1 : 0
                return streak >= 20
            }
        }
        let route = #"{"uri":"/live","upstream":{"type":"roundrobin","nodes":{"\#(upstream.address)":1}}}"#
        #expect(try admin.call("PUT", "/apisix/admin/routes/1", route).status == 201)
        #expect(allServe(200))
        #expect(try admin.proxy("/live").bodyText == "from upstream")
        #expect(try admin.call("DELETE", "/apisix/admin/routes/1").status == 200)
        #expect(allServe(404))
    }

    /// The Admin API part of the openfunction walkthrough: the last PUT, a plain upstream route.
    @Test func openfunctionWalkthroughPlainUpstream() throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let admin = try AdminFixture()
        let pluginRoute = try admin.call("PUT", "/apisix/admin/routes/1", #"{"uri":"/hello","plugins":{"openfunction":{"function_uri":"http://localhost:3233/default/function-sample/test","authorization":{"service_token":"test:test"}}}}"#)
        #expect(pluginRoute.status == 201)
        let put = try admin.call("PUT", "/apisix/admin/routes/1",
                                 #"{"methods":["GET"],"uri":"/hello","upstream":{"type":"roundrobin","nodes":{"\#(upstream.address)":1}}}"#)
        #expect(put.status == 200)
        #expect(admin.sluice.waitUntil(timeout: 3) { (try? admin.proxy("/hello").status) == 200 })
        let echoed = try admin.proxy("/hello").echoed()
        #expect(echoed.method == "GET" && echoed.target == "/hello")
        #expect(try admin.proxy("/hello", method: "POST").status == 404)
    }
}
