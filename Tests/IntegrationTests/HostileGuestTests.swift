import Foundation
import Testing

/// The hostile test guest (guest/hostile.c, mode=hostile) attacks the virtio rng and block
/// devices with malformed work; Swiftlet must answer each attack as virtio 1.2 asks, keep
/// running, and (in an AddressSanitizer build, SWIFTLET_ASAN_BINARY) touch no memory it
/// should not.
@Suite struct HostileGuestTests {
    /// Every attack the guest makes, on each victim device.
    static let attacks = [
        "desc-loop", "next-past-size", "head-past-size", "addr-outside-ram", "addr-mmio-hole",
        "len-near-4g", "addr-wraps", "avail-jump", "nested-indirect", "indirect-unnegotiated",
        "indirect-bad-len", "readable-after-writable", "queue-size-3", "queue-size-0",
        "queue-size-too-big", "unoffered-features", "msix-out-of-range", "config-past-end",
    ]

    /// The ASan build when scripts/test built one, else the normal binary.
    static var binary: String {
        TestEnvironment.variable("SWIFTLET_ASAN_BINARY") ?? TestEnvironment.swiftletBinary
    }

    @Test func everyAttackIsAnsweredAndTheVMMStaysUp() throws {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("hostile guest", because: "/dev/kvm is absent")
        }
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let disk = directory.appendingPathComponent("disk.img")
        try Data(count: 1 << 20).write(to: disk)
        let outURL = directory.appendingPathComponent("stdout"), errURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        // LeakSanitizer's exit-time scan makes calls the filters forbid (ptrace-like
        // thread suspension): an ASan build runs without them.
        let sanitized = TestEnvironment.variable("SWIFTLET_ASAN_BINARY") != nil
        process.arguments = (sanitized ? ["--seccomp", "off"] : []) + ["--block=\(disk.path)", "64", TestEnvironment.testGuest, "mode=hostile"]
        var environment = ProcessInfo.processInfo.environment
        // Any ASan report aborts the run with a non-zero status; LeakSanitizer's report at
        // exit too: every boot's objects must be gone by then (GuestBoot breaks the bus
        // cycle that once kept them), and the process-lifetime ones are still reachable.
        environment["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:halt_on_error=1"
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        if finished.wait(timeout: .now() + 600) == .timedOut {
            process.terminate()
            process.waitUntilExit()
            Issue.record("the hostile guest did not power off within 600 s")
        }
        let stdout = try String(contentsOf: outURL, encoding: .utf8)
        let stderr = try String(contentsOf: errURL, encoding: .utf8)

        #expect(process.terminationStatus == 0, "status \(process.terminationStatus); stderr: \(stderr)")
        #expect(!stderr.contains("AddressSanitizer"), "\(stderr)")
        #expect(!stderr.contains("LeakSanitizer"), "\(stderr)")
        expectGuestChecksPassed(stdout)
        for device in ["rng", "blk"] {
            for attack in Self.attacks {
                #expect(stdout.contains("ok attack-\(attack)-\(device)\n"), "no 'ok attack-\(attack)-\(device)' in \(stdout)")
            }
        }
    }
}
