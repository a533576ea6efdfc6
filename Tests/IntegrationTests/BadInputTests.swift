import Foundation
import Testing

/// Bad user input gets exactly one line on stderr and a non-zero status: no backtrace,
/// no core dump, no usage screen.
@Suite struct BadInputTests {
    /// Asserts the one-line failure and that the line mentions every `words`.
    func expectOneLineFailure(_ run: SwiftletRun, status: Int32? = nil, mentions words: [String],
                              sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status != 0, sourceLocation: sourceLocation)
        if let status { #expect(run.status == status, "stderr: \(run.stderr)", sourceLocation: sourceLocation) }
        #expect(run.stderrLines.count == 1, "stderr: \(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.stderr.hasPrefix("swiftlet: "), "stderr: \(run.stderr)", sourceLocation: sourceLocation)
        #expect(!run.stderr.contains("Fatal error"), sourceLocation: sourceLocation)
        for word in words {
            #expect(run.stderr.contains(word), "'\(word)' not in: \(run.stderr)", sourceLocation: sourceLocation)
        }
        #expect(run.stdout.isEmpty, "stdout: \(run.stdout)", sourceLocation: sourceLocation)
    }

    func scratch() throws -> URL { try TestEnvironment.temporaryDirectory() }

    @Test func missingKernel() throws {
        let run = try Swiftlet.run(["64", "/nonexistent/vmlinux"])
        expectOneLineFailure(run, status: 1, mentions: ["/nonexistent/vmlinux"])
    }

    @Test func kernelThatIsATextFile() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = directory.appendingPathComponent("notes.txt")
        try Data(String(repeating: "this is not a kernel\n", count: 200).utf8).write(to: text)
        let run = try Swiftlet.run(["64", text.path])
        expectOneLineFailure(run, status: 1, mentions: [text.path])
    }

    @Test func truncatedELF() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let guest = try Data(contentsOf: URL(fileURLWithPath: TestEnvironment.testGuest))
        let cut = directory.appendingPathComponent("truncated.elf")
        try guest.prefix(100).write(to: cut)
        let run = try Swiftlet.run(["64", cut.path])
        expectOneLineFailure(run, status: 1, mentions: [cut.path])
    }

    @Test func truncatedBzImage() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A real bzImage cut short if one was built; else its first 4 KiB of header alone
        // would need a kernel, so craft the classic shape: a boot sector with "HdrS".
        var image = Data(count: 0x1000)
        if let bzImage = TestEnvironment.testBzImage ?? TestEnvironment.cloudKernel {
            image = try Data(contentsOf: URL(fileURLWithPath: bzImage)).prefix(0x4000)
        } else {
            image[0x1f1] = 4                                  // setup_sects
            image[0x1fe] = 0x55; image[0x1ff] = 0xAA          // boot_flag
            image.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
            image[0x206] = 0x0F; image[0x207] = 0x02          // protocol 2.15
        }
        let cut = directory.appendingPathComponent("truncated.bzImage")
        try image.write(to: cut)
        let run = try Swiftlet.run(["64", cut.path])
        expectOneLineFailure(run, status: 1, mentions: [cut.path])
    }

    @Test(arguments: [("0", "at least"), ("lots", "not a whole number"), ("99999999", "more than this host")])
    func badMemorySize(memory: String, words: String) throws {
        let run = try Swiftlet.run([memory, TestEnvironment.testGuest])
        expectOneLineFailure(run, status: 2, mentions: [words])
    }

    @Test func initrdLargerThanGuestMemory() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let big = directory.appendingPathComponent("big.initrd")
        // Sparse: 64 MiB that takes no disk.
        _ = FileManager.default.createFile(atPath: big.path, contents: nil)
        let handle = try FileHandle(forWritingTo: big)
        try handle.truncate(atOffset: 64 << 20)
        try handle.close()
        let run = try Swiftlet.run(["32", TestEnvironment.testGuest, "--initrd=\(big.path)"])
        expectOneLineFailure(run, status: 1, mentions: [big.path])
    }

    @Test func missingInitrd() throws {
        let run = try Swiftlet.run(["64", TestEnvironment.testGuest, "--initrd=/nonexistent/initrd"])
        expectOneLineFailure(run, status: 1, mentions: ["/nonexistent/initrd"])
    }

    @Test(arguments: ["/nonexistent/kvm", "/dev/null"])
    func kvmDeviceMissingOrNotKVM(device: String) throws {
        let run = try Swiftlet.run(["64", TestEnvironment.testGuest], environment: ["SWIFTLET_KVM_DEVICE": device])
        expectOneLineFailure(run, status: 1, mentions: [device])
    }

    @Test func unknownOptionIsOneLine() throws {
        let run = try Swiftlet.run(["--frobnicate", "64", TestEnvironment.testGuest])
        expectOneLineFailure(run, status: 2, mentions: ["--frobnicate"])
    }

    @Test func aTunnetThatIsNotAnIPv4AddressIsAUsageError() throws {
        let run = try Swiftlet.run(["--tunnet=10.0.2", "64", TestEnvironment.testGuest])
        expectOneLineFailure(run, status: 2, mentions: ["--tunnet", "10.0.2"])
    }

    @Test func missingDisk() throws {
        let run = try Swiftlet.run(["--block=/nonexistent/disk.img", "64", TestEnvironment.testGuest])
        expectOneLineFailure(run, status: 1, mentions: ["/nonexistent/disk.img"])
    }

    @Test func helpListsEveryOption() throws {
        let run = try Swiftlet.run(["--help"])
        #expect(run.status == 0)
        for option in ["--verbose", "--tunnet", "--mac", "--block", "--no-rng", "--reset-limit", "--reset-window", "--initrd", "--cpus", "--cpu-template", "<mem-in-mb>", "<kernel>", "Exit status"] {
            #expect(run.stdout.contains(option), "--help lacks \(option)")
        }
    }
}
