#if canImport(Glibc)
import Glibc
#endif
import CLibevent

/// Names this process for `ps` and `top`, as nginx's `ngx_setproctitle` does.
enum ProcessTitle {
    /// Sets the kernel's name (`/proc/PID/comm`, 15 bytes at most: `sluice: control` just fits)
    /// and, when `commandLine` is given, overwrites the argv area so `ps` shows it instead of the
    /// original command line.
    ///
    /// Only the original argv strings are reused, never the environment that follows them (nginx
    /// first moves `environ` away for that; we do not need the extra room): the title is cut to
    /// fit, and the rest of the area is zeroed so `/proc/PID/cmdline` ends with it.
    static func set(name: String, commandLine: String? = nil) {
        _ = sluice_prctl_set_name(name)
        guard let commandLine else { return }
        let argc = Int(CommandLine.argc)
        let argv = CommandLine.unsafeArgv
        guard argc > 0, let first = argv[0] else { return }
        // The strings the kernel laid out are contiguous; stop at the first that is not (a
        // runtime that copied them), so nothing outside the original area is touched.
        var end = first + strlen(first) + 1
        for index in 1..<max(argc, 1) where index < argc {
            guard let next = argv[index], next == end else { break }
            end = next + strlen(next) + 1
        }
        let room = end - first
        guard room > 1 else { return }
        memset(first, 0, room)
        let bytes = Array(commandLine.utf8.prefix(room - 1))
        bytes.withUnsafeBufferPointer { buf in
            first.withMemoryRebound(to: UInt8.self, capacity: room) { target in
                target.update(from: buf.baseAddress!, count: buf.count)
            }
        }
        // Later arguments now point into zeroed or title bytes; nothing reads them after this.
    }
}
