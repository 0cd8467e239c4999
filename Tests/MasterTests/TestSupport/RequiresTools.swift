#if canImport(Glibc)
import Glibc
#endif
import Testing
import TestSupport

/// A test (or suite) that needs external programs (curl, openssl, nginx, etcd, python3). A missing
/// one fails the test with the reason, never skips it: `make test` installs every one of them
/// (`test-deps`), so a run that lacks one (CI=true included) is broken, and silence would hide it.
struct RequiresTools: TestTrait, SuiteTrait {
    /// Absolute paths that must be executable.
    let paths: [String]

    var isRecursive: Bool { true }

    func prepare(for test: Test) async throws {
        let missing = paths.filter { !SluiceProcess.isExecutable($0) }
        if !missing.isEmpty {
            throw TestSupportError.process("needs \(missing.joined(separator: ", ")), which `make test-deps` installs")
        }
    }
}

extension Trait where Self == RequiresTools {
    /// Fails the test when one of `paths` is not an executable file.
    static func requires(_ paths: String...) -> RequiresTools { RequiresTools(paths: paths) }
}
