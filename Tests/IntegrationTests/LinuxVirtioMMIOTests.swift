import Foundation
import Testing

/// Linux's virtio_mmio driver against ours (`--transport mmio`, `pci=off`): the small test
/// kernel binds console, disk and rng from the DSDT's LNRO0005 devices or, with
/// `acpi=off`, from the `virtio_mmio.device=` words swiftlet adds, then finds its CPUs and
/// IOAPIC in the MP table. The disk holds no init, so the kernel ends in "No working init
/// found" whatever the host.
@Suite struct LinuxVirtioMMIOTests {
    /// Lines no clean virtio-mmio boot prints.
    static let complaints = [
        #"virtio.*(error|fail)"#, #"ACPI (BIOS )?Error"#, #"failed to claim resource"#, #"MP-BIOS bug"#,
    ]

    func boot(_ options: [String], _ arguments: [String], until marker: String) throws -> (SwiftletRun, URL)? {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("Linux over virtio-mmio", because: "/dev/kvm is absent")
        }
        guard let kernel = TestEnvironment.testVmlinux else {
            Issue.record("test kernel missing; run scripts/images test-kernel (scripts/test does)")
            return nil
        }
        let directory = try TestEnvironment.temporaryDirectory()
        let image = directory.appendingPathComponent("root.ext4")
        _ = FileManager.default.createFile(atPath: image.path, contents: nil)
        let handle = try FileHandle(forWritingTo: image)
        try handle.truncate(atOffset: 64 << 20)
        try handle.close()
        #expect(Self.tool("/sbin/mkfs.ext4", ["-q", "-F", image.path]) == 0)
        let run = try Swiftlet.run(
            ["--verbose", "--transport", "mmio", "--block=\(image.path)"] + options
                + ["256", kernel, "root=/dev/vda", "rw", "console=hvc0", "earlyprintk=serial", "pci=off"] + arguments,
            timeout: 1500, until: marker)
        return (run, directory)
    }

    func expectCleanVirtioBoot(_ run: SwiftletRun, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let log = run.stdout
        #expect(log.contains("virtio_blk virtio") && log.contains("[vda] 131072 512-byte logical blocks"),
                "tail: \(log.suffix(3000))", sourceLocation: sourceLocation)
        let hvc = try #require(log.range(of: "printk: console [hvc0] enabled"), "hvc0 never became the console",
                               sourceLocation: sourceLocation)
        let mounted = try #require(log.range(of: "EXT4-fs (vda): mounted filesystem"), "vda was not mounted",
                                   sourceLocation: sourceLocation)
        #expect(hvc.upperBound <= mounted.lowerBound, sourceLocation: sourceLocation)
        #expect(run.stderr.contains("virtio rng: driver started it"), "hwrng never started the rng", sourceLocation: sourceLocation)
        // PCI is not probed: there is no bus, and the kernel was told so.
        #expect(!log.contains("PCI host bridge"), sourceLocation: sourceLocation)
        for pattern in Self.complaints {
            let bad = log.split(whereSeparator: \.isNewline).filter { $0.range(of: pattern, options: .regularExpression) != nil }
            #expect(bad.isEmpty, "lines matching \(pattern): \(bad)", sourceLocation: sourceLocation)
        }
    }

    @Test func devicesFromTheDSDT() throws {
        guard let (run, directory) = try boot([], [], until: "No working init found") else { return }
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(run.stoppedAtMarker, "tail: \(run.stdout.suffix(3000)) stderr tail: \(run.stderr.suffix(1000))")
        try expectCleanVirtioBoot(run)
        #expect(!run.stdout.contains("virtio_mmio.device="), "an ACPI guest got command-line devices too")
        #expect(Self.tool("/sbin/e2fsck", ["-fn", directory.appendingPathComponent("root.ext4").path]) == 0)
    }

    /// `acpi=off`: the devices from the command line, the CPUs and IOAPIC from the MP
    /// table. Without ACPI there is no S5 and no pvpanic: `panic=1` reboots the guest
    /// through the i8042 (`reboot=k`), and with no resets allowed swiftlet then ends.
    @Test func acpiOffFindsTheMPTableAndCommandLineDevices() throws {
        guard let (run, directory) = try boot(
            ["--cpus", "2", "--reset-limit", "0"], ["acpi=off", "panic=1", "reboot=k"], until: "swiftlet-never-prints-this")
        else { return }
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = run.stdout
        #expect(log.contains("found SMP MP-table"), "tail: \(log.prefix(4000))")
        #expect(log.contains("Brought up 1 node, 2 CPUs"))
        for (index, pin) in [5, 6, 7].enumerated() {
            #expect(log.contains("virtio-mmio: Registering device virtio-mmio.\(index) at 0xf000\(index)000-0xf000\(index)1ff, IRQ \(pin)."))
        }
        try expectCleanVirtioBoot(run)
        // The panic's reboot reached us as a reset, which --reset-limit 0 turns into the end.
        #expect(log.contains("No working init found"))
        #expect(run.status == 1, "stderr tail: \(run.stderr.suffix(1000))")
        #expect(run.stderr.contains("the guest reset 1 times"), "stderr tail: \(run.stderr.suffix(1000))")
    }

    static func tool(_ path: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
