import Foundation
import Testing

/// Linux's own virtio drivers against ours: the small test kernel finds the PCI root,
/// binds console, disk and rng, mounts an ext4 disk as its root, and logs through hvc0.
/// The disk holds no init, so the kernel ends in "No working init found" whatever the
/// host (user space never has to run), and e2fsck then checks what it left behind.
@Suite struct LinuxVirtioTests {
    @Test func testKernelMountsExt4OverVirtioAndLogsThroughHVC0() throws {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("Linux virtio", because: "/dev/kvm is absent")
        }
        guard let kernel = TestEnvironment.testVmlinux else {
            Issue.record("test kernel missing; run scripts/images test-kernel (scripts/test does)")
            return
        }
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let image = directory.appendingPathComponent("root.ext4")
        _ = FileManager.default.createFile(atPath: image.path, contents: nil)
        let handle = try FileHandle(forWritingTo: image)
        try handle.truncate(atOffset: 64 << 20)
        try handle.close()
        #expect(try tool("/sbin/mkfs.ext4", ["-q", "-F", image.path]) == 0)

        let run = try Swiftlet.run(
            ["--verbose", "--block=\(image.path)", "256", kernel, "root=/dev/vda", "rw", "console=hvc0", "earlyprintk=serial"],
            timeout: 1500, until: "No working init found")
        let log = run.stdout
        #expect(run.stoppedAtMarker, "the kernel did not get to looking for init; tail: \(log.suffix(3000)) stderr tail: \(run.stderr.suffix(1000))")

        // The PCI root from our DSDT, and every device on it.
        #expect(log.contains("ACPI: PCI Root Bridge [PCI0]"))
        for device in ["[1af4:1043]", "[1af4:1042]", "[1af4:1044]"] {
            #expect(log.contains(device), "PCI device \(device) not found")
        }
        let failures = log.split(whereSeparator: \.isNewline).filter {
            ($0.contains("probe") && $0.contains("failed")) || ($0.contains("virtio") && $0.lowercased().contains("error"))
        }
        #expect(failures.isEmpty, "driver errors: \(failures)")
        // virtio_blk's capacity is the file's: 64 MiB = 131072 sectors.
        #expect(log.contains("virtio_blk virtio") && log.contains("[vda] 131072 512-byte logical blocks"))
        // The log moved to hvc0, and what follows arrived through the virtio console.
        let hvc = try #require(log.range(of: "printk: console [hvc0] enabled"), "hvc0 never became the console")
        let mounted = try #require(log.range(of: "EXT4-fs (vda): mounted filesystem"), "vda was not mounted")
        #expect(hvc.upperBound <= mounted.lowerBound)
        // Linux's hwrng core started our rng and read from it.
        #expect(run.stderr.contains("virtio rng: driver started it"), "hwrng never started the rng")
        #expect(run.stderr.contains("virtio rng: queue 0 kicked"), "hwrng never read the rng")

        // What the kernel left on the disk is a clean file system.
        #expect(try tool("/sbin/e2fsck", ["-fn", image.path]) == 0, "e2fsck found the image unclean")
    }

    /// Runs a host tool; returns its exit status.
    func tool(_ path: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
