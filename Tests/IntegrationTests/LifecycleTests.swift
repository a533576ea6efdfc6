import Foundation
import Testing

/// How a run ends at the edges: several CPUs, a guest panic, a reboot loop, signals, a
/// reader that goes away, and the three-^C escape on a terminal.
@Suite struct LifecycleTests {
    func guest(_ options: [String], _ arguments: [String], timeout: Double = 120,
               until marker: String? = nil) throws -> SwiftletRun? {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("lifecycle \(arguments.joined(separator: " "))", because: "/dev/kvm is absent")
        }
        return try Swiftlet.run(options + ["64", TestEnvironment.testGuest] + arguments, timeout: timeout, until: marker)
    }

    @Test(arguments: [1, 2, 4])
    func everyCPUReportsItsAPICID(cpus: Int) throws {
        guard let run = try guest(["--cpus", "\(cpus)"], ["mode=smp", "expect_cpus=\(cpus)"]) else { return }
        #expect(run.status == 0, "stderr: \(run.stderr)")
        for id in 0..<cpus {
            #expect(run.stdout.contains("cpu \(id) up\n"), "no 'cpu \(id) up' in \(run.stdout)")
        }
        #expect(!run.stdout.contains("cpu \(cpus) up"))
        #expect(run.stdout.contains("ok smp\n"), "\(run.stdout)")
    }

    @Test func tooManyCPUsIsOneLineAndUsage() throws {
        guard let run = try guest(["--cpus", "100000"], ["mode=smp"]) else { return }
        #expect(run.status == 2)
        #expect(run.stderrLines.count == 1, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("swiftlet: --cpus 100000: swiftlet runs 1 to "), "\(run.stderr)")
    }

    @Test func pvpanicEndsWithStatus3AndOneLine() throws {
        guard let run = try guest([], ["mode=panic"]) else { return }
        #expect(run.status == 3, "stderr: \(run.stderr)")
        #expect(run.stderr == "swiftlet: the guest panicked\n")
        #expect(run.stdout.contains("testguest: pvpanic supports 03\n"), "\(run.stdout)")
        #expect(!run.stdout.contains("still running after the panic"))
    }

    @Test func panicRebootTimeoutLetsTheGuestGoOn() throws {
        guard let run = try guest([], ["mode=panic", "panic=5"]) else { return }
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stderr.isEmpty, "\(run.stderr)")
        #expect(run.stdout.contains("testguest: still running after the panic"))
    }

    /// The default limit (10); the window is widened because on a loaded host a boot of
    /// even the test guest can take a second, and 11 resets would never fit in 10 s.
    @Test func rebootLoopGivesUp() throws {
        guard let run = try guest(["--reset-window", "600"], ["mode=reset-forever"]) else { return }
        #expect(run.status == 1)
        #expect(run.stderr == "swiftlet: the guest reset 11 times in 600 s; giving up\n")
        #expect(run.stdout.components(separatedBy: "testguest: resetting again").count - 1 == 11)
    }

    @Test func resetLimitAndWindowAreOptions() throws {
        guard let run = try guest(["--reset-limit", "2", "--reset-window", "30"], ["mode=reset-forever"]) else { return }
        #expect(run.status == 1)
        #expect(run.stderr == "swiftlet: the guest reset 3 times in 30 s; giving up\n")
    }

    /// Each boot must give back what it took: with 40 file descriptors allowed, 41 boots
    /// fit only if none keeps its VM, irqfds and ioeventfds (they once leaked through a
    /// cycle between the MMIO bus and the PCI bus, about five descriptors and the guest's
    /// RAM mapping per reset).
    @Test func rebootsGiveBackTheirDescriptors() throws {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("reboots give back their descriptors", because: "/dev/kvm is absent")
        }
        let run = try Swiftlet.run(
            ["--reset-limit", "40", "--reset-window", "6000", "64", TestEnvironment.testGuest, "mode=reset-forever"],
            timeout: 300, launcher: ["/usr/bin/prlimit", "--nofile=40", "--"])
        #expect(run.status == 1)
        #expect(run.stderr == "swiftlet: the guest reset 41 times in 6000 s; giving up\n")
    }

    @Test func resetsWithinTheLimitStillReboot() throws {
        guard let run = try guest(["--reset-limit", "1"], ["mode=reset-acpi"]) else { return }
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout.contains("testguest: second start, powering off"))
    }

    /// SIGTERM while the guest writes: every batch it saw flushed is in the file.
    @Test func sigtermKeepsEveryFlushedWrite() throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let disk = dir.appendingPathComponent("disk.img")
        try Data(count: 16 << 20).write(to: disk)
        guard let run = try guest(["--block=\(disk.path)"], ["mode=blk-write-loop"], until: "flushed 8\n") else { return }
        #expect(run.stoppedAtMarker, "\(run.stdout)")
        #expect(run.status == 143, "stderr: \(run.stderr)")
        #expect(run.stderr.isEmpty, "\(run.stderr)")
        // Every `flushed <n>` line the guest printed, even after our SIGTERM, is a promise.
        let flushed = run.stdout.split(separator: "\n").compactMap { line in
            line.hasPrefix("flushed ") ? Int(line.dropFirst(8)) : nil
        }.max() ?? -1
        #expect(flushed >= 8)
        let contents = try Data(contentsOf: disk)
        for batch in 0...max(flushed, 0) {
            let expected = UInt64(0x5357_4946_0000_0000) | UInt64(batch)
            let bytes = contents[(batch * 4096)..<((batch + 1) * 4096)]
            let allMatch = stride(from: bytes.startIndex, to: bytes.endIndex, by: 8).allSatisfy { offset in
                contents[offset..<(offset + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) } == expected
            }
            #expect(allMatch, "batch \(batch) of \(flushed) flushed is not on the disk")
            if !allMatch { break }
        }
    }

    /// `swiftlet ... | head -1`: the closed pipe costs the output, not swiftlet's life.
    @Test func closedStdoutIsNoSignalDeath() throws {
        guard TestEnvironment.hasKVM else { return }
        let script = "\"$0\" 64 \"$1\" mode=chatty chatty_lines=20000 </dev/null | head -1; echo \"status ${PIPESTATUS[0]}\""
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script, TestEnvironment.swiftletBinary, TestEnvironment.testGuest]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text == "testguest: start\nstatus 0\n")
    }

    /// SIGHUP and SIGINT (stdin not a terminal) stop the guest the same orderly way.
    @Test(arguments: [(SIGHUP, Int32(129)), (SIGINT, Int32(130))])
    func stopSignalsEndWith128PlusN(signal: Int32, status: Int32) throws {
        guard TestEnvironment.hasKVM else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.swiftletBinary)
        process.arguments = ["64", TestEnvironment.testGuest, "mode=hang"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Wait for the guest to be hanging, then signal.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("testguest: hanging") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == status)
    }
}
