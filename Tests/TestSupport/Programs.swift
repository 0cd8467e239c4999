#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Programs other than `sluice` (client scripts, tools), run the way ``SluiceProcess`` runs the binary.
package enum Programs {
    /// Runs `path` with `arguments` to completion in its own process group, with a clean signal
    /// state, stdin from `/dev/null` and the test process's environment plus `environment`, bounded
    /// by `timeout` seconds: then its process group is killed (SIGKILL, by its pid) and the status is -1.
    /// Returns the exit code (128 + signal if killed by one) and stdout+stderr together.
    package static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:],
                            timeout: Double) -> (status: Int32, output: String) {
        let output = "/tmp/sluice-program-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { unlink(output) }
        return Processes.run(
            path: path, arguments: arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
            outputPath: output, timeout: timeout)
    }
}
