import Foundation
import Testing

/// Swiftlet's virtio devices driven by the test guest's own small virtio-pci driver:
/// the devices are proven without Linux user space, which cannot run on PVM.
@Suite struct VirtioTestGuestTests {
    /// The disk pattern of guest/README.md: byte i is (i*131) ^ (i>>9) ^ seed.
    static func pattern(count: Int, seed: Int) -> Data {
        Data((0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 9) ^ seed) })
    }

    func disk(bytes: Data) throws -> URL {
        let url = try TestEnvironment.temporaryDirectory().appendingPathComponent("disk.img")
        try bytes.write(to: url)
        return url
    }

    func guest(_ options: [String], _ arguments: [String], reply: (after: String, input: Data)? = nil) throws -> SwiftletRun? {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("virtio test guest \(arguments.joined(separator: " "))", because: "/dev/kvm is absent")
        }
        return try Swiftlet.run(options + ["64", TestEnvironment.testGuest] + arguments, timeout: 120, reply: reply)
    }

    func expectPassed(_ run: SwiftletRun, _ checks: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == 0, "stderr: \(run.stderr)", sourceLocation: sourceLocation)
        expectGuestChecksPassed(run.stdout, sourceLocation: sourceLocation)
        for check in checks {
            #expect(run.stdout.contains("ok \(check)\n"), "no 'ok \(check)' in \(run.stdout)", sourceLocation: sourceLocation)
        }
        #expect(!run.stdout.contains("placed at"), "Swiftlet must place every BAR itself", sourceLocation: sourceLocation)
    }

    @Test func consoleCarriesALineEachWay() throws {
        guard let run = try guest([], ["mode=virtio-console"],
                                  reply: ("virtio-console: hello from the guest", Data("hello from the host\n".utf8)))
        else { return }
        expectPassed(run, ["console-init", "console-tx", "console-rx"])
        #expect(run.stdout.contains("virtio-console got: hello from the host"))
    }

    @Test func writtenPatternLandsInTheFile() throws {
        let file = try disk(bytes: Data(count: 4 << 20))
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        guard let run = try guest(["--block=\(file.path)"], ["mode=virtio-blk", "blk_write=1", "expect_sectors=8192"])
        else { return }
        expectPassed(run, ["blk-init", "blk-capacity", "blk-write", "blk-flush"])
        let contents = try Data(contentsOf: file)
        #expect(contents.count == 4 << 20)
        #expect(contents.prefix(1 << 20) == Self.pattern(count: 1 << 20, seed: 0x5a), "the first MiB is not the pattern")
        #expect(contents.dropFirst(1 << 20).allSatisfy { $0 == 0 }, "bytes past the first MiB changed")
    }

    @Test func hostPatternReadsBackAndCapacityIsTheFileSize() throws {
        // 3 MiB + 1536 bytes: the capacity counts whole sectors.
        var bytes = Self.pattern(count: 1 << 20, seed: 7)
        bytes.append(Data(count: (2 << 20) + 1536))
        let file = try disk(bytes: bytes)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        guard let run = try guest(["--block=\(file.path)"],
                                  ["mode=virtio-blk", "blk_read=1", "pattern_seed=7", "expect_sectors=\((3 << 11) + 3)", "blk_id=1"])
        else { return }
        expectPassed(run, ["blk-read", "blk-capacity", "blk-id"])
    }

    @Test func readOnlyDiskFailsWritesAndStaysUnchanged() throws {
        let original = Self.pattern(count: 1 << 20, seed: 3)
        let file = try disk(bytes: original)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        guard let run = try guest(["--block=\(file.path),ro"], ["mode=virtio-blk", "blk_ro=1"]) else { return }
        expectPassed(run, ["blk-ro-flag", "blk-ro-write-fails"])
        #expect(try Data(contentsOf: file) == original)
    }

    @Test func readPastTheEndFailsAndTheDiskStillWorks() throws {
        let file = try disk(bytes: Data(count: 1 << 20))
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        guard let run = try guest(["--block=\(file.path)"], ["mode=virtio-blk", "blk_past_end=1"]) else { return }
        expectPassed(run, ["blk-past-end", "blk-after-error"])
    }

    @Test func rngFillsBuffers() throws {
        guard let run = try guest([], ["mode=virtio-rng"]) else { return }
        expectPassed(run, ["rng-init", "rng"])
    }

    @Test func noRNGLeavesTheDeviceOut() throws {
        guard let run = try guest(["--no-rng"], ["mode=virtio-all"]) else { return }
        #expect(run.status == 0)
        #expect(run.stdout.contains("virtio: no rng device"), "\(run.stdout)")
    }
}
