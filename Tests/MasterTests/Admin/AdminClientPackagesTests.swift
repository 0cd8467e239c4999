import Foundation
import Testing
import TestSupport

/// The virtualenv's interpreter; a missing one fails every test here (`make test-deps` makes it).
private let venvPython = SluiceProcess.packageRoot + "/.build-py/venv/bin/python"

/// What APISIX's Python clients call, tried as a new user would: `Tests/clients/*_walkthrough.py`
/// drive PyPI's `apisix-client` and `mcp-apisix` (the versions `make test-deps` pins into
/// `.build-py/venv`) against the real binary with the `local` provider, and check through the proxy
/// port what they configured. Each script prints one line per step and exits 1 at the first
/// mismatch; its whole output is in the failure message.
@Suite(.requires(venvPython))
struct AdminClientPackagesTests {
    /// Upstreams, services, routes (key-auth, proxy-rewrite), consumers with `apisix-client`.
    @Test func apisixClient() throws { try walk("apisix_client_walkthrough.py") }

    /// The `mcp-apisix` MCP server over stdio: its read, validate, create, update and toggle tools.
    @Test func mcpApisix() throws { try walk("mcp_apisix_walkthrough.py") }

    private func walk(_ script: String) throws {
        let upstream = try TestUpstream()
        defer { upstream.stop() }
        let admin = try AdminFixture()
        let path = SluiceProcess.packageRoot + "/Tests/clients/" + script
        let (status, output) = Programs.run(venvPython, [
            path, "--admin", "http://127.0.0.1:\(admin.sluice.adminPort)", "--key", SluiceProcess.adminKey,
            "--proxy-port", String(admin.sluice.proxyPort), "--upstream", upstream.address,
        ], environment: ["PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"], timeout: 120)
        let hint = output.contains("ModuleNotFoundError") ? "\n(a package is missing: run `make test-deps`)" : ""
        let log = admin.sluice.errorLog.split(separator: "\n").suffix(30).joined(separator: "\n")
        #expect(status == 0 && output.contains("walkthrough: all steps passed"),
                "\(script) exited with \(status)\(hint)\n\(output)\n--- sluice error.log (last lines) ---\n\(log)")
    }
}
