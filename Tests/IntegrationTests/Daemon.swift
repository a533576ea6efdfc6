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

/// posix_spawn and pidfds, for what Foundation's Process cannot do (see Daemon).
enum Spawned {
    /// Runs `command` (an absolute path first) to its exit; its exit status, 128+N for
    /// signal N, or -1 if it was still running after `timeout` seconds (then killed).
    static func runToExit(_ command: [String], output: URL, timeout: Int32) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Other tests' pipes must not live on in our child (their readers would wait).
        if let closeFrom = symbol("posix_spawn_file_actions_addclosefrom_np", as: CloseFrom.self) {
            _ = closeFrom(&actions, 3)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = command.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let error = posix_spawn(&pid, command[0], &actions, &attributes, argv, environ)
        guard error == 0 else { throw NetworkTestError("\(command[0]): posix_spawn failed: \(String(cString: strerror(error)))") }

        // Our own child: a zombie until reaped, so the pidfd cannot miss its exit.
        let fd = pidfdOpen(pid)
        let finished = fd >= 0 && exited(fd, withinMilliseconds: timeout * 1000)
        if fd >= 0 { close(fd) }
        if !finished { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard fd >= 0 else { throw NetworkTestError("\(command[0]): pidfd_open failed: errno \(errno)") }
        guard finished else { return -1 }
        // <sys/wait.h>'s macros: the low 7 bits are the signal, the next byte the status.
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// Whether `pidfd` became readable (its process exited) in time.
    static func exited(_ pidfd: Int32, withinMilliseconds timeout: Int32) -> Bool {
        let deadline = DispatchTime.now() + .milliseconds(Int(timeout))
        while true {
            var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            let left = Int64(deadline.uptimeNanoseconds) - Int64(DispatchTime.now().uptimeNanoseconds)
            let result = poll(&entry, 1, Int32(max(0, left / 1_000_000)))
            if result > 0 { return true }
            if result == 0 || errno != EINTR { return false }
        }
    }

    // glibc 2.36 has these, but Swift's Glibc module does not import them
    // (<sys/pidfd.h>; the _np call needs _GNU_SOURCE).
    private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    private typealias PidfdSendSignal = @convention(c) (Int32, Int32, UnsafeMutableRawPointer?, UInt32) -> Int32
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, name) else { return nil }
        return unsafeBitCast(address, to: type)
    }

    static func pidfdOpen(_ pid: pid_t) -> Int32 {
        guard let call = symbol("pidfd_open", as: PidfdOpen.self) else { errno = ENOSYS; return -1 }
        return call(pid, 0)
    }

    static func sendSignal(_ pidfd: Int32, _ signal: Int32) -> Bool {
        guard let call = symbol("pidfd_send_signal", as: PidfdSendSignal.self) else { errno = ENOSYS; return false }
        return call(pidfd, signal, nil, 0) == 0
    }
}
