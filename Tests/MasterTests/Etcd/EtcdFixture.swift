#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Shared
import TestSupport

/// A real etcd (Debian's etcd-server, `/usr/bin/etcd`) on loopback with free ports and its data in
/// a temporary directory; stopped by pid (SIGKILL: etcd fsyncs its WAL, so a restart on the same
/// directory keeps everything, as after a crash). Talked to through its v3 JSON gateway.
final class EtcdServer {
    static let binary = "/usr/bin/etcd"

    let clientPort: Int
    let peerPort: Int
    let dataDirectory: String
    private var process: Process?

    var url: String { "http://127.0.0.1:\(clientPort)" }

    init() throws {
        let ports = SluiceProcess.freePorts(2)
        clientPort = ports[0]
        peerPort = ports[1]
        dataDirectory = NSTemporaryDirectory() + "sluice-etcd-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    /// Starts etcd (again, on the same data) and waits until it answers.
    func start() throws {
        guard process == nil else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: EtcdServer.binary)
        let client = "http://127.0.0.1:\(clientPort)", peer = "http://127.0.0.1:\(peerPort)"
        process.arguments = [
            "--name", "default", "--data-dir", dataDirectory + "/data",
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "default=\(peer)", "--log-level", "warn", "--logger", "zap",
        ]
        let log = dataDirectory + "/etcd.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        let ready = TestSupport.waitUntil(timeout: 15, interval: 0.05) {
            (try? self.call("kv/range", ["key": Self.b64("/")], timeout: 1))?.status == 200
        }
        if !ready { throw TestSupportError.timeout("etcd on port \(clientPort) not ready:\n" + (try! String(contentsOfFile: log, encoding: .utf8))) }
    }

    /// Stops etcd by pid (SIGKILL) and waits for it.
    func stop() {
        guard let process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    static func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
    static func unb64(_ text: String) -> String { String(decoding: Data(base64Encoded: text) ?? Data(), as: UTF8.self) }

    /// `POST /v3/<path>` with a JSON body.
    @discardableResult
    func call(_ path: String, _ body: [String: Any], timeout: Double = 10) throws -> (status: Int, json: [String: Any]) {
        let data = try JSONSerialization.data(withJSONObject: body)
        let response = try HTTPClient.request(port: clientPort, method: "POST", path: "/v3/" + path,
                                              headers: [("Content-Type", "application/json")], body: Array(data), timeout: timeout)
        let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        return (response.status, json)
    }

    /// A put as any etcd client (APISIX) makes it; returns the revision.
    @discardableResult
    func put(_ key: String, _ value: String) throws -> Int {
        let answer = try call("kv/put", ["key": Self.b64(key), "value": Self.b64(value)])
        return Int((answer.json["header"] as? [String: Any])?["revision"] as? String ?? "") ?? -1
    }

    func delete(_ key: String) throws { try call("kv/deleterange", ["key": Self.b64(key)]) }

    /// Puts many keys, 100 per transaction.
    func putMany(_ pairs: [(String, String)]) throws {
        var index = 0
        while index < pairs.count {
            let batch = pairs[index..<min(index + 100, pairs.count)]
            let ops = batch.map { ["request_put": ["key": Self.b64($0.0), "value": Self.b64($0.1)]] }
            let answer = try call("kv/txn", ["success": ops])
            guard answer.status == 200 else { throw TestSupportError.process("txn failed: \(answer.json)") }
            index += 100
        }
    }

    /// The value at `key` and its create/mod revisions; nil when absent.
    func get(_ key: String) throws -> (value: String, created: Int, modified: Int)? {
        let answer = try call("kv/range", ["key": Self.b64(key)])
        guard let kv = (answer.json["kvs"] as? [[String: Any]])?.first else { return nil }
        return (Self.unb64(kv["value"] as? String ?? ""), Int(kv["create_revision"] as? String ?? "") ?? -1,
                Int(kv["mod_revision"] as? String ?? "") ?? -1)
    }

    /// The cluster's current revision.
    func revision() throws -> Int {
        let answer = try call("kv/range", ["key": Self.b64("/")])
        return Int((answer.json["header"] as? [String: Any])?["revision"] as? String ?? "") ?? -1
    }

    /// Compacts everything up to the current revision.
    func compact() throws -> Int {
        let revision = try revision()
        let answer = try call("kv/compaction", ["revision": String(revision), "physical": true])
        guard answer.status == 200 else { throw TestSupportError.process("compaction failed: \(answer.json)") }
        return revision
    }
}

/// A Sluice node with `config_provider: etcd` on `etcd`.
final class EtcdNode {
    let sluice: SluiceProcess

    /// `hosts`: the `deployment.etcd.host` list; nil is `[etcd.url]`.
    init(etcd: EtcdServer, hosts: [String]? = nil, workers: Int = 1, extraFiles: [String: String] = [:], start: Bool = true) throws {
        sluice = try SluiceProcess(configYAML: EtcdNode.config(hosts: hosts ?? [etcd.url], workers: workers), workers: workers,
                                   extraFiles: extraFiles)
        if start {
            try sluice.start(waitForWorkers: true)
            try sluice.waitForPort(sluice.adminPort)
        }
    }

    static func config(hosts: [String], workers: Int = 1) -> String {
        """
        apisix:
          node_listen:
            - ip: 127.0.0.1
              port: {{PROXY_PORT}}
        deployment:
          role: traditional
          role_traditional:
            config_provider: etcd
          etcd:
            host:
        \(hosts.map { "      - \"\($0)\"" }.joined(separator: "\n"))
            prefix: /apisix
            timeout: 5
          admin:
            admin_key:
              - name: admin
                key: \(SluiceProcess.adminKey)
                role: admin
            admin_listen:
              ip: 127.0.0.1
              port: {{ADMIN_PORT}}
        nginx_config:
          worker_processes: \(workers)
          error_log_level: info

        """
    }

    /// One Admin API request with the admin key.
    func admin(_ method: String, _ path: String, _ body: String? = nil) throws -> TestHTTPResponse {
        try HTTPClient.request(port: sluice.adminPort, method: method, path: "/apisix/admin" + path,
                               headers: [("X-API-KEY", SluiceProcess.adminKey)], body: body.map { Array($0.utf8) })
    }

    /// A request through the proxy port; nil when the connection failed.
    func proxy(_ path: String) -> TestHTTPResponse? { try? HTTPClient.request(port: sluice.proxyPort, path: path) }

    /// Waits until `path` answers `status` on the proxy port.
    @discardableResult
    func waitForStatus(_ path: String, _ status: Int, timeout: Double = 10) -> Bool {
        sluice.waitUntil(timeout: timeout) { self.proxy(path)?.status == status }
    }

    /// Waits until the Admin API answers (etcd read done): a list that is not 503.
    func waitForSync(timeout: Double = 10) -> Bool {
        sluice.waitUntil(timeout: timeout) { (try? self.admin("GET", "/routes"))?.status == 200 }
    }

    /// The `sluice: control` pid.
    var controlPid: Int32? { sluice.controlPid }
}
