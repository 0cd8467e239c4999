// swift-tools-version: 6.1
// Sluice: an APISIX-compatible API gateway. Layers point one way: Shared <- Worker <- Master.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]
// Release builds of the data plane skip dynamic exclusivity checks: measured at 2.5-3% of a
// worker's CPU (swift_beginAccess on every class property access in the request path). Debug
// builds, which the tests use, keep them.
let dataPlane: [SwiftSetting] = strict + [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sluice", targets: ["Master"]),
        // The stand-in OpenFunction function (openfunction.md): demos, `make run`, tests.
        .executable(name: "sluice-function", targets: ["FunctionStandIn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // libevent, libevent_openssl and OpenSSL from Debian (libevent-dev, libssl-dev).
        .systemLibrary(
            name: "CLibevent",
            path: "Sources/CLibevent",
            pkgConfig: "libevent_openssl",
            providers: [.apt(["libevent-dev", "libssl-dev", "pkg-config"])]
        ),
        // PCRE2 from Debian (libpcre2-dev): APISIX's regular expressions are PCRE.
        .systemLibrary(
            name: "CPCRE2",
            path: "Sources/CPCRE2",
            pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]
        ),
        // Config model, schema validation, HTTP parsing, logging: everything every process needs.
        .target(
            name: "Shared",
            dependencies: ["CLibevent", "CPCRE2", .product(name: "Yams", package: "Yams")],
            swiftSettings: dataPlane
        ),
        // The data plane: one libevent loop per worker process.
        .target(name: "Worker", dependencies: ["Shared", "CLibevent"], swiftSettings: dataPlane),
        // The `sluice` executable: command line, master (supervisor) and control process.
        .executableTarget(name: "Master", dependencies: ["Worker", "Shared", "CLibevent"], swiftSettings: strict),
        // The stand-in function: an HTTP/HTTPS server in the shapes of OpenFunction's samples.
        .executableTarget(name: "FunctionStandIn", dependencies: ["CLibevent"], path: "Tests/FunctionStandIn", swiftSettings: strict),
        // Test peers (an upstream server, process helpers) shared by the test targets.
        .target(name: "TestSupport", dependencies: ["Shared"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "SharedTests", dependencies: ["Shared", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "Shared", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "MasterTests", dependencies: ["Shared", "TestSupport"], swiftSettings: strict),
    ]
)
