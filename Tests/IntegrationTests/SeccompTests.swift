import Foundation
import Testing

/// The vCPU and device threads run under their seccomp filters (SeccompFilter): the
/// kernel shows them as `Seccomp: 2` (filter mode), and a call outside a thread's list
/// ends the process with SIGSYS and one line saying which thread made which call.
@Suite struct SeccompTests {
    /// Two vCPUs counting: at least three threads filtered (two vCPUs, the device thread;
    /// the console writer, started by a vCPU's first byte, inherits its filter).
    @Test func vcpuAndDeviceThreadsRunFiltered() throws {
        guard TestEnvironment.hasKVM else { try TestEnvironment.skipped("seccomp threads", because: "/dev/kvm is absent") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.swiftletBinary)
        process.arguments = ["--cpus", "2", "64", TestEnvironment.testGuest, "mode=counter", "interval_ms=50", "count_lines=200"]
        let stdout = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        // Once the guest prints, its vCPUs and the device thread are running, filtered.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("\n") {
            let chunk = stdout.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            seen.append(chunk)
        }
        #expect(!seen.isEmpty, "the guest printed nothing")
        let pid = process.processIdentifier
        let modes = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").map { task in
            let status = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8)) ?? ""
            return status.split(separator: "\n").first { $0.hasPrefix("Seccomp:") }.map(String.init) ?? "?"
        }
        #expect(modes.filter { $0 == "Seccomp:\t2" }.count >= 3, "\(modes)")
    }

    @Test(arguments: [("vcpu", "vCPU"), ("device", "device")])
    func aForbiddenCallEndsTheProcessWithSIGSYS(kind: String, name: String) throws {
        guard TestEnvironment.hasKVM else { try TestEnvironment.skipped("seccomp violation", because: "/dev/kvm is absent") }
        let run = try Swiftlet.run(["64", TestEnvironment.testGuest, "mode=counter", "count_lines=1000"],
                                   environment: ["SWIFTLET_TEST_SECCOMP_VIOLATION": kind], timeout: 60)
        // Process reports a death by signal as the signal's number (a shell would say 159).
        #expect(run.status == SIGSYS, "stderr: \(run.stderr)")
        // getppid is call 110 on x86_64.
        #expect(run.stderr.contains("swiftlet: seccomp: the \(name) thread made system call 110, which its filter forbids; ending"),
                "\(run.stderr)")
    }

    /// --seccomp off: the trigger finds no filter, and the guest runs to its end.
    @Test func offLeavesTheThreadsUnfiltered() throws {
        guard TestEnvironment.hasKVM else { try TestEnvironment.skipped("seccomp off", because: "/dev/kvm is absent") }
        let run = try Swiftlet.run(["--seccomp", "off", "64", TestEnvironment.testGuest, "mode=counter", "interval_ms=1", "count_lines=3"],
                                   environment: ["SWIFTLET_TEST_SECCOMP_VIOLATION": "vcpu"], timeout: 60)
        #expect(run.status == 0, "stderr: \(run.stderr)")
    }
}
