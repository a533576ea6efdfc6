import Foundation

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
