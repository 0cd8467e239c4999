// sluice-function: a stand-in for CNCF OpenFunction functions and their 0.5-0.6 gateway
// (see /work/shared/spec/openfunction.md and `sluice-function --help`).
#if canImport(Glibc)
internal import Glibc
#endif

/// Parses the command line, starts the server and returns the exit status: 0 after SIGTERM/SIGINT,
/// 1 when it cannot start, 2 on a usage error.
func standInMain(_ arguments: [String]) -> Int32 {
    let options: Options
    do {
        options = try Options.parse(arguments)
    } catch {
        writeAll(2, "sluice-function: \(error.message)\n\(Options.usage)")
        return 2
    }
    if options.help {
        writeAll(1, Options.usage)
        return 0
    }
    do {
        return try Server(options: options).run()
    } catch {
        writeAll(2, "sluice-function: \(error.message)\n")
        return 1
    }
}

exit(standInMain(Array(CommandLine.arguments.dropFirst())))
