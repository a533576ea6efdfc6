import Foundation
import Testing

/// Real guests on a ThreadSanitizer build of swiftlet (scripts/tsan builds it and
/// scripts/test passes it as SWIFTLET_TSAN_BINARY): two vCPUs, the device thread and the
/// console pump all run, and TSan must have nothing to say.
@Suite struct ThreadSanitizerTests {
    func runUnderTSan(_ arguments: [String], test: String) throws -> SwiftletRun {
        guard TestEnvironment.hasKVM else { try TestEnvironment.skipped(test, because: "/dev/kvm is absent") }
        guard let binary = TestEnvironment.variable("SWIFTLET_TSAN_BINARY") else {
            try TestEnvironment.skipped(test, because: "SWIFTLET_TSAN_BINARY is not set (scripts/tsan builds it; scripts/test sets it)")
        }
        // TSan's runtime makes calls the filters forbid (its own threads, PROT_EXEC-free
        // shadow mappings it may change): sanitizer runs go without seccomp.
        return try Swiftlet.run(["--seccomp", "off"] + arguments, timeout: 180, binary: binary)
    }

    @Test func twoVCPUsAndEveryVirtioDeviceRaceNothing() throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let disk = directory.appendingPathComponent("disk.img")
        _ = FileManager.default.createFile(atPath: disk.path, contents: Data(count: 4 << 20))
        let run = try runUnderTSan(
            ["--cpus", "2", "--block=\(disk.path)", "64", TestEnvironment.testGuest,
             "mode=virtio-all", "blk_write=1", "blk_read=1", "console_rx=0"], test: "TSan virtio-all")
        #expect(!run.stderr.contains("ThreadSanitizer"), "\(run.stderr.suffix(6000))")
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        expectGuestChecksPassed(run.stdout)
    }

    @Test func bringingUpAPsRacesNothing() throws {
        let run = try runUnderTSan(["--cpus", "2", "64", TestEnvironment.testGuest, "mode=smp"], test: "TSan smp")
        #expect(!run.stderr.contains("ThreadSanitizer"), "\(run.stderr.suffix(6000))")
        #expect(run.stdout.contains("ok smp"), "\(run.stdout)")
        #expect(run.status == 0)
    }
}
