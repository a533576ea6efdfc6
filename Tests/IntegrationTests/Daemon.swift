import Foundation

/// A daemon a test started (dnsmasq), known by the pid it wrote to its pid file and
/// stopped through a pidfd.
///
/// Two traps shaped this. dnsmasq closes every descriptor it inherits, which Foundation's
/// Process takes for an exit and then blocks reaping it (and with it every other process
/// the tests run). And a child inherits its spawner's signal mask: the test's worker
/// threads block SIGTERM (libdispatch does), and dnsmasq keeps it blocked, so it would
/// never hear our SIGTERM. So we spawn it ourselves with an empty mask and let it
/// daemonize: its first process exits once the daemon is ready (the start-up signal, its
/// status the verdict), and the daemon is nobody's child. A pidfd (pidfd_open(2)) names
/// it without the pid-reuse race and becomes readable when it exits, so every wait here
/// waits for exactly that, with a bound.
final class Daemon {
    let pid: pid_t
    private var pidfd: Int32

    /// Runs `command` with an empty signal mask, stdin from /dev/null and its output to
    /// `output`; waits (`timeout` seconds at most) for that first process to exit with
    /// status 0, then takes hold of the daemon named in `pidFile`, which must be running
    /// `name`.
    static func start(_ command: [String], name: String, pidFile: URL, output: URL, timeout: Int32 = 60) throws -> Daemon {
        let status = try Spawned.runToExit(command, output: output, timeout: timeout)
        guard status == 0 else {
            let said = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            throw NetworkTestError("\(command.joined(separator: " ")): \(status < 0 ? "no exit within \(timeout) s" : "status \(status)"): \(said)")
        }
        return try Daemon(pidFile: pidFile, name: name)
    }

    private init(pidFile: URL, name: String) throws {
        let text = (try? String(contentsOf: pidFile, encoding: .utf8)) ?? ""
        guard let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 else {
            throw NetworkTestError("\(name): no pid in \(pidFile.path) (\"\(text)\")")
        }
        let fd = Spawned.pidfdOpen(pid)
        guard fd >= 0 else { throw NetworkTestError("\(name): pidfd_open(\(pid)) failed: errno \(errno)") }
        // Held through the pidfd from here on: a pid reused before this check is caught.
        let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? ""
        guard comm.trimmingCharacters(in: .whitespacesAndNewlines) == String(name.prefix(15)) else {
            close(fd)
            throw NetworkTestError("\(name): pid \(pid) from \(pidFile.path) runs \"\(comm)\"")
        }
        self.pid = pid
        self.pidfd = fd
    }

    deinit { stop() }

    /// SIGTERM, then SIGKILL if it has not gone within `grace` seconds; true once it has
    /// gone (at once when already stopped).
    @discardableResult
    func stop(grace: Int32 = 10) -> Bool {
        guard pidfd >= 0 else { return true }
        let gone = end(with: SIGTERM, withinMilliseconds: grace * 1000)
            || end(with: SIGKILL, withinMilliseconds: 10_000)
        if gone {
            close(pidfd)
            pidfd = -1
        }
        return gone
    }

    /// Sends `signal` and waits for the exit; ESRCH means it had already gone.
    private func end(with signal: Int32, withinMilliseconds timeout: Int32) -> Bool {
        guard Spawned.sendSignal(pidfd, signal) else { return errno == ESRCH }
        return Spawned.exited(pidfd, withinMilliseconds: timeout)
    }
}
