#if canImport(Glibc)
import Glibc
#endif
import Shared

/// One master per prefix: an exclusive `fcntl` lock on `logs/sluice.lock`, held for the master's
/// life. The lock file is never removed (removing a locked file lets a second master lock a new
/// inode of the same name); the kernel drops the lock when the master exits, however it exits.
///
/// A POSIX record lock is not inherited by `fork`, so children never hold it, and `F_GETLK` names
/// the holder's pid for the refusal message.
final class PrefixLock {
    /// Descriptor of the open lock file; children close it.
    let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Why the lock could not be taken.
    enum Failure: Error {
        /// Another process holds it; its pid when known.
        case held(by: pid_t?)
        /// open() or fcntl() failed: the message to print.
        case system(String)
    }

    /// `PREFIX/logs/sluice.lock`.
    static func path(prefix: String) -> String { prefix + "/logs/sluice.lock" }

    /// Takes the lock without waiting, then records this pid and `configPath` in the file (two
    /// lines): `sluice -s` reads the config file of the master that owns the prefix from it.
    static func acquire(prefix: String, configPath: String) throws(Failure) -> PrefixLock {
        let path = path(prefix: prefix)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 {
            let errorNumber = errno
            throw .system("open() \"\(path)\" failed \(errnoText(errorNumber))")
        }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        if fcntl(fd, F_SETLK, &lock) == -1 {
            let errorNumber = errno
            guard errorNumber == EAGAIN || errorNumber == EACCES else {
                close(fd)
                throw .system("fcntl(F_SETLK) \"\(path)\" failed \(errnoText(errorNumber))")
            }
            var probe = flock()
            probe.l_type = Int16(F_WRLCK)
            probe.l_whence = Int16(SEEK_SET)
            var holder: pid_t?
            if fcntl(fd, F_GETLK, &probe) == 0, probe.l_type != Int16(F_UNLCK) { holder = probe.l_pid }
            close(fd)
            throw .held(by: holder)
        }
        let text = "\(getpid())\n\(configPath)\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        return PrefixLock(fd: fd)
    }
}

extension PrefixLock {
    /// The config file the master holding PREFIX was started with, from the lock file; nil when
    /// there is no lock file or it names none (a master of an older version).
    static func recordedConfigPath(prefix: String) -> String? {
        guard let text = Paths.readSmallFile(path(prefix: prefix)) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, lines[1].hasPrefix("/") else { return nil }
        return String(lines[1])
    }
}

/// `logs/sluice.pid`: written once the master is ready (workers started), removed at its exit.
/// Written to a temporary name and renamed, so `sluice -s` never reads half a number.
enum PidFile {
    /// `PREFIX/logs/sluice.pid`.
    static func path(prefix: String) -> String { prefix + "/logs/sluice.pid" }

    /// Writes `pid\n`; returns the failing call's message on error.
    static func write(prefix: String, pid: pid_t) -> String? {
        let final = path(prefix: prefix)
        let temporary = final + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { return "open() \"\(temporary)\" failed \(errnoText(errno))" }
        let text = "\(pid)\n"
        let written = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        let writeErr = errno
        close(fd)
        if written < 0 {
            unlink(temporary)
            return "write() to \"\(temporary)\" failed \(errnoText(writeErr))"
        }
        if rename(temporary, final) != 0 {
            let errorNumber = errno
            unlink(temporary)
            return "rename() \"\(temporary)\" to \"\(final)\" failed \(errnoText(errorNumber))"
        }
        return nil
    }

    /// Removes the pid file; a failure is only logged by the caller.
    static func remove(prefix: String) -> String? {
        let final = path(prefix: prefix)
        if unlink(final) != 0 && errno != ENOENT { return "unlink() \"\(final)\" failed \(errnoText(errno))" }
        return nil
    }
}
