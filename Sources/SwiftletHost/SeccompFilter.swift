#if canImport(Glibc)
import Glibc
#endif
import CSeccomp
import CSystem

/// seccomp-bpf allow-lists, one per kind of thread, each installed by the thread itself
/// once it starts its work (a filter binds the thread that loads it and the threads it
/// creates later). A call outside the list traps: the SIGSYS handler (CSystem) prints one
/// line naming the thread kind and the call's number, then the process dies of SIGSYS.
/// TRAP rather than KILL_PROCESS for that line: a bare SIGSYS tells a user nothing, and
/// the handler can do nothing but write and re-raise.
///
/// libseccomp (Debian's libseccomp-dev) rather than hand-written BPF: it knows every
/// architecture's call numbers by name, compiles argument comparisons on 64-bit values
/// correctly, and checks the audit architecture, all of which hand-written BPF gets wrong
/// easily and silently.
public enum SeccompFilter {
    public enum ThreadKind: String, Sendable {
        /// A vCPU: KVM_RUN and the exits it serves (port and MMIO accesses, which may
        /// move BARs, route MSIs and signal eventfds).
        case vcpu
        /// The device thread: the event loop over eventfds, disks, taps and vsock sockets.
        case device
    }

    /// Whether the handler that names a violation is in place; installed once, process-wide.
    private static let handlerInstalled: Bool = csystem_install_sigsys_handler() == 0

    /// Installs `kind`'s filter on the calling thread. Irreversible for the thread.
    public static func enter(_ kind: ThreadKind) throws(HostError) {
        guard handlerInstalled else { throw HostError("sigaction(SIGSYS)") }
        csystem_set_thread_kind(kind.number)
        guard let context = seccomp_init(cseccomp_trap()) else { throw HostError("seccomp_init", errno: ENOMEM) }
        defer { seccomp_release(context) }
        for rule in common + (kind == .vcpu ? vcpuOnly : deviceOnly) {
            let number = seccomp_syscall_resolve_name(rule.name)
            // A call this kernel's headers do not know (resolve gives a negative number)
            // cannot be made either: nothing to allow.
            guard number >= 0 else { continue }
            let result: Int32
            switch rule.check {
            case .any: result = cseccomp_allow(context, number)
            case .masked(let index, let mask, let value): result = cseccomp_allow_masked(context, number, index, mask, value)
            case .equal(let index, let value): result = cseccomp_allow_equal(context, number, index, value)
            case .fail(let error): result = cseccomp_fail(context, number, error)
            }
            guard result == 0 else { throw HostError("seccomp_rule_add(\(rule.name))", errno: -result) }
        }
        let loaded = seccomp_load(context)
        guard loaded == 0 else { throw HostError("seccomp_load", errno: -loaded) }
        // Test-only (LockdownTests): one forbidden call, to show the filter bites.
        if let name = getenv("SWIFTLET_TEST_SECCOMP_VIOLATION"), String(cString: name) == kind.rawValue {
            _ = getppid()
        }
    }

    struct Rule {
        enum Check {
            case any
            /// Allowed when (argument index & mask) == value.
            case masked(UInt32, UInt64, UInt64)
            case equal(UInt32, UInt64)
            /// Not allowed, but not fatal either: fails with this errno.
            case fail(Int32)
        }
        let name: String
        let check: Check
        init(_ name: String, _ check: Check = .any) {
            self.name = name
            self.check = check
        }
    }

    /// What every thread of ours does without asking: locks, memory, signals, time, a
    /// thread of its own (the console writer starts from whichever thread writes first).
    static let common: [Rule] = [
        Rule("futex"), Rule("madvise"), Rule("munmap"), Rule("mremap"), Rule("brk"),
        // No executable memory: a guest that took over a thread cannot map code of its own.
        Rule("mmap", .masked(2, UInt64(PROT_EXEC), 0)),
        Rule("mprotect", .masked(2, UInt64(PROT_EXEC), 0)),
        Rule("rt_sigprocmask"), Rule("rt_sigreturn"), Rule("sigaltstack"),
        Rule("gettid"), Rule("getpid"), Rule("tgkill"),
        Rule("exit"), Rule("exit_group"),
        Rule("clock_gettime"), Rule("clock_nanosleep"), Rule("nanosleep"), Rule("sched_yield"),
        Rule("read"), Rule("write"), Rule("close"),
        // Threads only: clone's flags must include CLONE_THREAD (so no new process), and
        // clone3, whose flags sit behind a pointer no filter can read, says ENOSYS, which
        // makes glibc fall back to clone.
        Rule("clone", .masked(0, CSECCOMP_CLONE_THREAD, CSECCOMP_CLONE_THREAD)),
        Rule("clone3", .fail(ENOSYS)),
        Rule("set_robust_list"), Rule("rseq"),
        Rule("getrandom"),
    ]

    /// KVM's own ioctls (type 0xAE) and nothing else: KVM_RUN, and what an exit's device
    /// handling asks of the VM (ioeventfds for moved BARs, GSI routing, IRQ lines).
    static let kvmIoctls = Rule("ioctl", .masked(1, 0xFF00, 0xAE00))
    /// The tun driver's (type 'T'): a virtio-net driver's feature choice reaches the tap
    /// (TUNSETOFFLOAD, TUNSETVNETHDRSZ) from whichever thread wrote the device's status.
    static let tunIoctls = Rule("ioctl", .masked(1, 0xFF00, 0x5400))

    /// A vCPU's register writes start and stop devices: DRIVER_OK adds the device's
    /// descriptors (tap, vsock timer) to the event loop, a reset takes them out, closes
    /// its streams and flushes its disk.
    static let vcpuOnly: [Rule] = [
        kvmIoctls, tunIoctls,
        Rule("epoll_ctl"), Rule("eventfd2"), Rule("timerfd_create"), Rule("timerfd_settime"), Rule("fcntl"),
        Rule("shutdown"), Rule("fdatasync"), Rule("fsync"),
    ]

    static let deviceOnly: [Rule] = [
        kvmIoctls, tunIoctls,
        Rule("epoll_wait"), Rule("epoll_pwait"), Rule("epoll_ctl"),
        // Disks and taps.
        Rule("readv"), Rule("writev"), Rule("preadv"), Rule("pwritev"), Rule("pread64"), Rule("pwrite64"),
        Rule("fdatasync"), Rule("fsync"), Rule("fallocate"), Rule("lseek"),
        Rule("fstat"), Rule("newfstatat"), Rule("statx"), Rule("fcntl"),
        // vsock: Unix sockets only, to the paths the configuration named.
        Rule("socket", .equal(0, UInt64(AF_UNIX))),
        Rule("connect"), Rule("accept"), Rule("accept4"), Rule("shutdown"),
        Rule("recvfrom"), Rule("sendto"), Rule("recvmsg"), Rule("sendmsg"),
        Rule("getsockopt"), Rule("setsockopt"),
        Rule("timerfd_create"), Rule("timerfd_settime"), Rule("timerfd_gettime"), Rule("eventfd2"), Rule("poll"), Rule("ppoll"),
    ]
}

extension SeccompFilter.ThreadKind {
    /// The SIGSYS handler's name for the kind (CSystem's table).
    var number: Int32 {
        switch self {
        case .vcpu: return 1
        case .device: return 2
        }
    }
}
