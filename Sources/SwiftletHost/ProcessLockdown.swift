#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// What the process gives up once the VM is set up: everything a guest that escaped the
/// device model could use against the host and that the run no longer needs.
///
/// Order matters. The cheap walls (descriptors, core dumps) cost nothing; the rest comes
/// after /dev/kvm, the disks and the taps are open, since those need root or a group, and
/// nothing the run does later needs more: a guest reset builds its new KVM VM from the
/// /dev/kvm descriptor already open, reuses the disks' and taps' descriptors, and makes
/// vCPUs, eventfds and timerfds, which need no privilege.
public struct ProcessLockdown: Sendable, Equatable {
    /// The user and group to run as after set-up (e.g. 65534, nobody/nogroup); nil keeps
    /// the ones we started with.
    public var uid: UInt32?
    public var gid: UInt32?
    /// Whether a crash may leave a core dump (RLIMIT_CORE). Off unless asked: guest RAM is
    /// MADV_DONTDUMP already, but device buffers and queues on our heap are guest data too.
    public var allowCoreDumps: Bool
    /// Whether the vCPU and device threads run under their seccomp filters
    /// (SeccompFilter); off for debugging and sanitizer builds, whose runtimes make calls
    /// the filters forbid.
    public var seccomp: Bool

    /// Descriptors the run may open after set-up, beyond those it holds then: up to 256
    /// vsock streams, 10 API connections, a disk replaced by PATCH now and then, and a
    /// reset's new boot (which closes the last boot's VM, vCPU and event descriptors
    /// before it opens its own, so it needs the same numbers again, not more).
    public static let descriptorMargin = 1024

    public init(uid: UInt32? = nil, gid: UInt32? = nil, allowCoreDumps: Bool = false, seccomp: Bool = true) {
        self.uid = uid
        self.gid = gid
        self.allowCoreDumps = allowCoreDumps
        self.seccomp = seccomp
    }

    /// One line for the log: what was given up.
    public var summary: String {
        var parts = ["core dumps \(allowCoreDumps ? "allowed" : "off")", "descriptors capped", "no new privileges",
                     "seccomp \(seccomp ? "on" : "off")"]
        if let uid { parts.append("uid \(uid)") }
        if let gid { parts.append("gid \(gid)") }
        return parts.joined(separator: ", ")
    }

    /// Closes every descriptor above stderr: whatever our parent left open (a listening
    /// socket, a privileged file) is not for a guest to find through us. Call first thing
    /// in main, before anything of ours is open.
    public static func closeInheritedDescriptors() {
        if csystem_close_range(3, UInt32.max) == 0 { return }
        // close_range is Linux 5.9; before it, one by one up to the descriptor limit.
        let highest = Int32(clamping: min(csystem_soft_limit(CSYSTEM_RLIMIT_NOFILE), 1 << 20))
        for fd in 3..<max(3, highest) { close(fd) }
    }

    /// Applies the limits, then drops to `uid`/`gid` if given. Throws on the first step
    /// that fails: a lockdown half done must not pass for a whole one.
    public func apply() throws(HostError) {
        if !allowCoreDumps {
            try setLimit(CSYSTEM_RLIMIT_CORE, to: 0, "setrlimit(RLIMIT_CORE)")
        }
        let open = Self.highestOpenDescriptor() + 1
        try setLimit(CSYSTEM_RLIMIT_NOFILE, to: UInt64(open + Self.descriptorMargin), "setrlimit(RLIMIT_NOFILE)")
        try dropPrivileges()
    }

    /// Group first (a user that is no longer root could not change it), supplementary
    /// groups cleared (setgid keeps them, and root's may open doors), then the user. For a
    /// privileged caller setgid/setuid set the real, effective and saved ids alike, so there
    /// is no way back, and a non-root uid clears the permitted and effective capability sets.
    /// (glibc applies both to every thread of the process, not just the caller.) No new
    /// privileges: nothing we exec or a set-uid bit could hand them back.
    private func dropPrivileges() throws(HostError) {
        guard csystem_set_no_new_privileges() == 0 else { throw HostError("prctl(PR_SET_NO_NEW_PRIVS)") }
        guard uid != nil || gid != nil else { return }
        guard csystem_clear_supplementary_groups() == 0 else { throw HostError("setgroups") }
        if let gid {
            guard setgid(gid) == 0 else { throw HostError("setgid(\(gid))") }
        }
        if let uid {
            guard setuid(uid) == 0 else { throw HostError("setuid(\(uid))") }
        }
    }

    /// Soft and hard limit alike, so that nothing later can raise it again (and never
    /// above a hard limit someone above us chose).
    private func setLimit(_ resource: Int32, to value: UInt64, _ call: String) throws(HostError) {
        guard csystem_lower_limit(resource, value) == 0 else { throw HostError(call) }
    }

    /// The highest descriptor number open now, from /proc/self/fd (a limit bounds numbers,
    /// not counts: a new descriptor gets the lowest free number, which may be high).
    static func highestOpenDescriptor() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 1024 }
        defer { closedir(directory) }
        var highest = 2
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let fd = Int(name) { highest = max(highest, fd) }
        }
        return highest
    }
}
