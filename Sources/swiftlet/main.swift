// swiftlet: run a Linux guest on KVM from the command line the seed Launcher had.
//
//   swiftlet [--verbose] [--tunnet=<ip>|bridge:<br>] [--block=<file>] [--initrd=<file>]
//            <mem-in-mb> <kernel> [kernel args...]
//
// Or, given any of Firecracker's options, Firecracker's REST API on a Unix socket and its
// JSON configuration file (APIFrontEnd.swift, over SwiftletAPI).
//
// Everything here is about talking to the user; the machine itself starts in
// SwiftletMachine's Machine.run, which is where to read on.
#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import SwiftletHost
import SwiftletMachine

// Before anything of ours is open: descriptors a parent left us are not for a guest to find.
// SWIFTLET_KEEP_INHERITED_FDS=1 keeps them, for a parent that watches one for our exit
// (Foundation's Process does, with a socket: closed early, it takes us for dead and blocks
// reaping us, and every other child, until we end; the integration tests spawn us so).
if getenv("SWIFTLET_KEEP_INHERITED_FDS").map({ String(cString: $0) }) != "1" {
    ProcessLockdown.closeInheritedDescriptors()
}
exit(SwiftletCommand.main(arguments: Array(CommandLine.arguments.dropFirst())))
