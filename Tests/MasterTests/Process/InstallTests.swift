import Foundation
import Testing
import TestSupport

/// `make install` lays Sluice out as a service; the installed binary finds its prefix by itself.
@Suite(.serialized) struct InstallTests {
    @Test(.requires("/usr/bin/make", "/usr/bin/install")) func installedLayoutWorksFromAnywhere() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-install-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let make = try StandInChild.run("/usr/bin/make", [
            "-C", SluiceProcess.packageRoot, "install", "SLUICE_BIN=\(SluiceProcess.defaultBinaryPath)",
            "PREFIX=\(root)/usr", "SYSTEMD_UNIT_DIR=\(root)/systemd", "LOGROTATE_DIR=\(root)/logrotate",
        ], within: 60)
        #expect(make.code == 0, "\(make.output)")
        let home = root + "/usr/sluice"
        for path in ["/usr/bin/sluice", "/usr/sluice/conf/config.yaml", "/usr/sluice/conf/apisix.yaml"] {
            #expect(FileManager.default.fileExists(atPath: root + path), "\(path)")
        }
        var isDirectory: ObjCBool = false
        for dir in ["logs", "data"] {
            #expect(FileManager.default.fileExists(atPath: home + "/" + dir, isDirectory: &isDirectory) && isDirectory.boolValue)
        }
        let unit = (try? String(contentsOfFile: root + "/systemd/sluice.service", encoding: .utf8)) ?? ""
        #expect(unit.contains("ExecStart=\(root)/usr/bin/sluice -p \(home)\n"), "\(unit)")
        #expect(unit.contains("ExecReload=\(root)/usr/bin/sluice -s reload -p \(home)\n"))
        #expect(unit.contains("ExecStop=\(root)/usr/bin/sluice -s quit -p \(home)\n"))
        #expect(unit.contains("LimitNOFILE="))
        let rotate = (try? String(contentsOfFile: root + "/logrotate/sluice", encoding: .utf8)) ?? ""
        #expect(rotate.contains("\(home)/logs/*.log {") && rotate.contains("sluice -s reopen -p \(home)"), "\(rotate)")

        // From another directory, without -p: the installed prefix.
        let check = try StandInChild.run(root + "/usr/bin/sluice", ["-t"], within: 20)
        #expect(check.code == 0, "\(check.output)")
        #expect(check.output.contains("the configuration file \(home)/conf/config.yaml syntax is ok"), "\(check.output)")

        // Installing again keeps an edited configuration.
        try "# edited\n".write(toFile: home + "/conf/apisix.yaml", atomically: true, encoding: .utf8)
        let again = try StandInChild.run("/usr/bin/make", [
            "-C", SluiceProcess.packageRoot, "install", "SLUICE_BIN=\(SluiceProcess.defaultBinaryPath)",
            "PREFIX=\(root)/usr", "SYSTEMD_UNIT_DIR=\(root)/systemd", "LOGROTATE_DIR=\(root)/logrotate",
        ], within: 60)
        #expect(again.code == 0)
        #expect((try? String(contentsOfFile: home + "/conf/apisix.yaml", encoding: .utf8)) == "# edited\n")
    }

    /// A foreground start prints one line saying it is ready, whatever the log level.
    @Test func foregroundStartSaysReady() throws {
        let config = SluiceProcess.defaultConfigYAML(workers: 1).replacingOccurrences(of: "error_log_level: info", with: "error_log_level: warn")
        let sluice = try SluiceProcess(configYAML: config, workers: 1)
        try sluice.start(waitForWorkers: true)
        defer { sluice.stopCheckingWorkers() }
        let ready = TestSupport.waitUntil(timeout: 5) { sluice.stdoutLog.contains("sluice: ready: listening on 127.0.0.1:\(sluice.proxyPort)") }
        #expect(ready, "\(sluice.stdoutLog)")
        #expect(sluice.stdoutLog.contains("1 worker processes, master pid \(sluice.pid ?? 0) in \(sluice.prefix)/logs/sluice.pid"), "\(sluice.stdoutLog)")
    }
}
