import ArgumentParser
import SwiftletHost

/// The options both front ends share for what the process gives up after set-up
/// (SwiftletHost's ProcessLockdown): run as another user, keep core dumps.
struct LockdownOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("After set-up (/dev/kvm, disks and taps open; in API mode at InstanceStart), run as this user id, with no capabilities.", valueName: "uid"))
    var uid: UInt32?

    @Option(name: .long, help: ArgumentHelp("After set-up, run as this group id, with no supplementary groups.", valueName: "gid"))
    var gid: UInt32?

    @Flag(name: .customLong("allow-core-dumps"), help: "Leave RLIMIT_CORE as it is (guest RAM stays out of dumps either way).")
    var allowCoreDumps = false

    @Option(name: .long, help: ArgumentHelp("on, or off: no seccomp filters (debugging; sanitizer builds need it).", valueName: "on|off"))
    var seccomp: Switch = .on

    enum Switch: String, ExpressibleByArgument { case on, off }

    var lockdown: ProcessLockdown {
        ProcessLockdown(uid: uid, gid: gid, allowCoreDumps: allowCoreDumps, seccomp: seccomp == .on)
    }
}
