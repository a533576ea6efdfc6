import Foundation
import Testing

/// `--transport mmio`: the test guest's virtio-mmio driver runs the same device checks as
/// over PCI, finding its devices in the DSDT or, when its command line says `acpi=off`,
/// in the `virtio_mmio.device=` words swiftlet adds; never both (`mmio-discovery`).
@Suite struct VirtioMMIOTestGuestTests {
    func guest(_ options: [String], _ arguments: [String], reply: (after: String, input: Data)? = nil) throws -> SwiftletRun? {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("virtio-mmio test guest \(arguments.joined(separator: " "))", because: "/dev/kvm is absent")
        }
        return try Swiftlet.run(["--transport", "mmio"] + options + ["64", TestEnvironment.testGuest, "transport=mmio"] + arguments,
                                timeout: 120, reply: reply)
    }

    func disk(size: Int) throws -> URL {
        let url = try TestEnvironment.temporaryDirectory().appendingPathComponent("disk.img")
        try Data(count: size).write(to: url)
        return url
    }

    func expectPassed(_ run: SwiftletRun, _ checks: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == 0, "stderr: \(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.stdout.contains(" checks, 0 failed"), "\(run.stdout)", sourceLocation: sourceLocation)
        for check in checks {
            #expect(run.stdout.contains("ok \(check)\n"), "no 'ok \(check)' in \(run.stdout)", sourceLocation: sourceLocation)
        }
    }

    static let deviceChecks = ["mmio-discovery", "console-init", "console-tx", "blk-init", "blk-capacity", "blk-write",
                               "blk-flush", "blk-read", "blk-past-end", "blk-after-error", "blk-id", "rng-init", "rng"]

    /// An ACPI guest: LNRO0005 devices in the DSDT, no PCI bus at all.
    @Test func deviceChecksPassWithDevicesFromTheDSDT() throws {
        let file = try disk(size: 4 << 20)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        guard let run = try guest(["--verbose", "--block=\(file.path)"], [
            "mode=virtio-all", "require=console,blk,rng", "console_rx=0", "expect_sectors=8192",
            "blk_write=1", "blk_read=1", "blk_past_end=1", "blk_id=1",
        ]) else { return }
        expectPassed(run, Self.deviceChecks)
        #expect(run.stdout.contains("virtio-mmio: 3 windows from the DSDT"))
        #expect(run.stdout.contains("virtio: console at mmio f0000000 (irq 5)"))
        #expect(!run.stderr.contains("virtio_mmio.device="), "an ACPI guest got command-line devices too")
        let written = try Data(contentsOf: file)
        #expect(written.prefix(1 << 20) == VirtioTestGuestTests.pattern(count: 1 << 20, seed: 0x5a))
    }

    /// An `acpi=off` guest: the devices come as command-line words, and the DSDT has none.
    @Test func deviceChecksPassWithDevicesFromTheCommandLine() throws {
        let file = try disk(size: 4 << 20)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        guard let run = try guest(["--verbose", "--block=\(file.path)"], [
            "acpi=off", "mode=virtio-all", "require=console,blk,rng", "console_rx=0", "expect_sectors=8192",
            "blk_write=1", "blk_read=1", "blk_past_end=1", "blk_id=1",
        ]) else { return }
        expectPassed(run, Self.deviceChecks)
        #expect(run.stdout.contains("virtio-mmio: 3 windows from the command line"))
        for (index, pin) in [5, 6, 7].enumerated() {
            let word = "virtio_mmio.device=0x200@0xf000\(index)000:\(pin)"
            #expect(run.stderr.contains(word), "no \(word) on the guest's command line")
        }
    }

    @Test func consoleCarriesALineEachWay() throws {
        guard let run = try guest([], ["mode=virtio-console"],
                                  reply: ("virtio-console: hello from the guest", Data("hello from the host\n".utf8)))
        else { return }
        expectPassed(run, ["console-init", "console-tx", "console-rx"])
        #expect(run.stdout.contains("virtio-console got: hello from the host"))
    }

    /// The hostile driver's ring and register attacks over virtio-mmio: every one is
    /// answered as virtio 1.2 asks, and the device works again after a reset.
    @Test func hostileDriverAttacksAreAnswered() throws {
        let file = try disk(size: 1 << 20)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        guard let run = try guest(["--block=\(file.path)"], ["mode=hostile"]) else { return }
        expectPassed(run, ["attack-desc-loop-rng", "attack-avail-jump-blk", "attack-queue-size-3-blk",
                           "attack-mmio-registers-rng", "attack-mmio-registers-blk", "attack-config-past-end-blk"])
        #expect(run.stdout.contains("testguest: 37 checks, 0 failed"))
    }

    /// Fifteen IOAPIC pins, one per device: a sixteenth device is one clear error.
    @Test func aDeviceBeyondThePinPoolIsRefused() throws {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("virtio-mmio device limit", because: "/dev/kvm is absent")
        }
        let file = try disk(size: 1 << 20)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        // Console + 13 disks + rng = 15 fit; one disk more does not.
        let fits = try Swiftlet.run(["--transport", "mmio"] + Array(repeating: "--block=\(file.path),ro", count: 13)
                                    + ["64", TestEnvironment.testGuest, "mode=exit"], timeout: 60)
        #expect(fits.status == 0, "stderr: \(fits.stderr)")
        let run = try Swiftlet.run(["--transport", "mmio"] + Array(repeating: "--block=\(file.path),ro", count: 14)
                                   + ["64", TestEnvironment.testGuest, "mode=exit"], timeout: 60)
        #expect(run.status == 1)
        #expect(run.stderr.contains("virtio-mmio: no interrupt pin left for virtio rng: at most 15 devices"), "\(run.stderr)")
        #expect(!run.stdout.contains("testguest: start"))
    }

    @Test func anUnknownTransportIsAUsageError() throws {
        let run = try Swiftlet.run(["--transport", "isa", "64", "/nonexistent"], timeout: 30)
        #expect(run.status == 2)
        #expect(run.stderr.contains("--transport: 'isa' is neither pci nor mmio"), "\(run.stderr)")
    }
}
