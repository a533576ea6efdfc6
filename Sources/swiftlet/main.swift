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
import SwiftletMachine

exit(SwiftletCommand.main(arguments: Array(CommandLine.arguments.dropFirst())))
