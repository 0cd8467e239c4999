import Foundation
import Testing
@testable import Shared

@Suite struct SnapshotFileTests {
    private func sample() throws -> ConfigSnapshot {
        let json = try JSONValue.parse(#"{"uri":"/hello","methods":["GET"],"plugins":{"p":{"k":"a/b"}},"#
            + #""upstream":{"nodes":{"127.0.0.1:1980":1},"type":"roundrobin"}}"#)
        let route = try ResourceCheck.route(json, id: "1", plugins: { _ in PluginSpec(schema: Schema()) }, exists: nil).get()
        let upstream = try ResourceCheck.upstream(.object(["nodes": .object(["[::1]:8080": 2]), "retries": 1]), id: "u1").get()
        var coded = Route(id: "2", uris: ["/coded"])
        coded.upstreamId = "u1"
        coded.hosts = ["a.com"]
        return ConfigSnapshot(generation: 42, routes: [route, coded], upstreams: ["u1": upstream])
    }

    /// `PREFIX/data/snapshot.json`.
    @Test func path() {
        #expect(SnapshotFile.path(prefix: "/p") == "/p/data/snapshot.json")
    }

    /// Written then read gives the same routes and upstreams, with the data directory created,
    /// mode 0600 and no temp file left behind.
    @Test func roundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = SnapshotFile.path(prefix: directory.path)
        let snapshot = try sample()
        try SnapshotFile.write(snapshot, to: path)
        let read = try SnapshotFile.read(path: path)
        #expect(read.generation == 42)
        #expect(read.routes[0] == snapshot.routes[0])
        #expect(read.routes[1].uris == ["/coded"])
        #expect(read.routes[1].hosts == ["a.com"])
        #expect(read.routes[1].upstreamId == "u1")
        #expect(read.upstreams == snapshot.upstreams)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/data")
        #expect(files == ["snapshot.json"])
    }

    /// Rewriting replaces the file whole; the encoding is deterministic.
    @Test func overwrite() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/snapshot.json"
        try SnapshotFile.write(try sample(), to: path)
        try SnapshotFile.write(ConfigSnapshot(generation: 43), to: path)
        #expect(try SnapshotFile.read(path: path) == ConfigSnapshot(generation: 43))
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
                == #"{"consumer_groups":[],"consumers":[],"credentials":[],"generation":43,"global_rules":[],"plugin_configs":[],"plugin_metadata":[],"routes":[],"services":[],"upstreams":[]}"# + "\n")
        #expect(SnapshotFile.encode(try sample()) == SnapshotFile.encode(try sample()))
    }

    /// Missing and corrupt files throw instead of crashing.
    @Test(arguments: ["", "{", "[]", #"{"generation":1,"routes":{},"upstreams":[]}"#,
                      #"{"generation":1,"routes":[{"uri":"/x"}],"upstreams":[]}"#,
                      #"{"generation":1,"routes":[{"id":"1"}],"upstreams":[]}"#,
                      #"{"generation":1,"routes":[],"upstreams":[{"id":"u","nodes":{"h:99999":1}}]}"#,
                      #"{"generation":-1,"routes":[],"upstreams":[]}"#])
    func corrupt(text: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("snapshot.json", text)
        #expect(throws: ConfigError.self) { try SnapshotFile.read(path: path) }
    }

    /// A missing file names the failed call.
    @Test func missing() {
        #expect(throws: ConfigError("open() \"/nonexistent/snapshot.json\" failed (2: No such file or directory)")) {
            try SnapshotFile.read(path: "/nonexistent/snapshot.json")
        }
    }

    /// An unwritable location throws and leaves no temp file.
    @Test func unwritable() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("file", "x")
        #expect(throws: ConfigError.self) { try SnapshotFile.write(ConfigSnapshot(), to: directory.path + "/file/snapshot.json") }
    }

    /// 10,000 routes survive a write/read round trip (correctness only).
    @Test func tenThousandRoutes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var snapshot = ConfigSnapshot(generation: 7)
        let upstream = try ResourceCheck.upstream(.object(["nodes": .object(["10.0.0.1:80": 1, "10.0.0.2:80": 1])]), id: "u").get()
        snapshot.upstreams["u"] = upstream
        for index in 0..<10_000 {
            let json: JSONValue = .object([
                "uri": .string("/route/\(index)/*"), "methods": .array(["GET", "POST"]), "priority": .number(Double(index % 7)),
                "hosts": .array([.string("h\(index % 100).example.com")]),
                "plugins": .object(["openfunction": .object(["function_uri": .string("http://127.0.0.1:30585/f\(index)")])]),
                index.isMultiple(of: 2) ? "upstream_id" : "upstream":
                    index.isMultiple(of: 2) ? "u" : .object(["nodes": .object(["127.0.0.1:1980": 1]), "type": "roundrobin"]),
            ])
            snapshot.routes.append(try ResourceCheck.route(json, id: String(index), plugins: { _ in PluginSpec(schema: Schema()) },
                                                           exists: { $0 == "upstreams" && $1 == "u" }).get())
        }
        let path = SnapshotFile.path(prefix: directory.path)
        try SnapshotFile.write(snapshot, to: path)
        let read = try SnapshotFile.read(path: path)
        #expect(read == snapshot)
    }
}
