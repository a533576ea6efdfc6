import Foundation
import Testing

/// Where the tests find swiftlet, the test guest and the guest images, and whether this
/// host can run guests at all. scripts/test sets the variables; the defaults suit a
/// plain `swift test` after `swift build` and `make -C guest`.
enum TestEnvironment {
    static let packageRoot: String = {
        // Tests/IntegrationTests/Support/TestEnvironment.swift → the package root.
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func variable(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// Set once, on first use, not on every call: a setenv races other threads' getenv.
    private static let keepInheritedDescriptors: Void = { setenv("SWIFTLET_KEEP_INHERITED_FDS", "1", 1) }()

    /// The binary under test. Asking for it also sets SWIFTLET_KEEP_INHERITED_FDS=1 in our
    /// environment, which every child inherits (through `ip netns exec` and shells too):
    /// Foundation's Process watches a socket it leaves in the child for the child's exit,
    /// and a swiftlet that closed it at start (main.swift) would look dead to it while it
    /// runs, and stall the reaping of every other child until it ends.
    static var swiftletBinary: String {
        _ = keepInheritedDescriptors
        return variable("SWIFTLET_BINARY") ?? packageRoot + "/.build/debug/swiftlet"
    }

    static var testGuest: String {
        variable("SWIFTLET_TEST_GUEST") ?? packageRoot + "/guest/out/testguest.elf"
    }

    /// Images built by scripts/images; nil when not built (scripts/test always builds them).
    static var testVmlinux: String? { existing(variable("SWIFTLET_TEST_VMLINUX")) }
    static var testBzImage: String? { existing(variable("SWIFTLET_TEST_BZIMAGE")) }
    static var cloudKernel: String? { existing(variable("SWIFTLET_CLOUD_KERNEL")) }
    static var initramfs: String? { existing(variable("SWIFTLET_INITRAMFS")) }
    static var cloudInitramfs: String? { existing(variable("SWIFTLET_CLOUD_INITRAMFS")) }

    static func existing(_ path: String?) -> String? {
        guard let path, FileManager.default.fileExists(atPath: path) else { return nil }
        return path
    }

    /// KVM tests run wherever /dev/kvm exists; they may skip only where it does not.
    static var hasKVM: Bool { FileManager.default.fileExists(atPath: "/dev/kvm") }

    /// PVM: guest ring 0 is emulated and Linux user space cannot run (DEVELOPERS.md).
    static var isPVM: Bool { FileManager.default.fileExists(atPath: "/sys/module/kvm_pvm") }

    /// Ends the running test as skipped, with the reason, through the test framework (it
    /// is reported as skipped, never as passed), and says so loudly on stderr too.
    static func skipped(_ test: String, because reason: String) throws -> Never {
        FileHandle.standardError.write(Data("SKIPPED: \(test): \(reason)\n".utf8))
        try Test.cancel("skipped: \(reason)")
    }

    /// Says loudly that one part of a test that otherwise ran could not run here (Linux
    /// user space on PVM, after the kernel-level checks passed): the test's own checks
    /// stand, so it is not cancelled, but the gap is named on stderr.
    static func partNotRun(_ part: String, because reason: String) {
        FileHandle.standardError.write(Data("SKIPPED: \(part): \(reason)\n".utf8))
    }

    /// A fresh temporary directory for one test.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
