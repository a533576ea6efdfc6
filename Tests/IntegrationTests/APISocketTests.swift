import Foundation
import Testing

/// Firecracker's API end to end: swiftlet started as an SDK would start it, driven over
/// its socket by curl (an HTTP client that is not our server code).
@Suite(.serialized) struct APISocketTests {
    /// swiftlet in API mode, its stdout and stderr collected in files.
    final class APIProcess {
        let process = Process()
        let directory: URL
        let socket: String
        var stdoutText: String { (try? String(contentsOf: directory.appendingPathComponent("stdout"), encoding: .utf8)) ?? "" }
        var stderrText: String { (try? String(contentsOf: directory.appendingPathComponent("stderr"), encoding: .utf8)) ?? "" }

        init(_ arguments: [String], directory: URL, socket: String) throws {
            self.directory = directory
            self.socket = socket
            process.executableURL = URL(fileURLWithPath: TestEnvironment.swiftletBinary)
            process.arguments = arguments
            process.standardInput = FileHandle.nullDevice
            for name in ["stdout", "stderr"] {
                FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: nil)
            }
            process.standardOutput = try FileHandle(forWritingTo: directory.appendingPathComponent("stdout"))
            process.standardError = try FileHandle(forWritingTo: directory.appendingPathComponent("stderr"))
            try process.run()
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        /// Waits (up to `seconds`) for `condition`, checking every 50 ms.
        @discardableResult
        func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if condition() { return true }
                usleep(50_000)
            }
            return condition()
        }

        /// The exit status once it has ended, or nil after `seconds`.
        func exitStatus(within seconds: Double) -> Int32? {
            guard waitFor(seconds, { !process.isRunning }) else { return nil }
            return process.terminationStatus
        }

        func lineCount(_ prefix: String) -> Int { stdoutText.split(separator: "\n").filter { $0.hasPrefix(prefix) }.count }
    }

    static let curl = Curl.path

    func request(_ socket: String, _ method: String, _ path: String, _ body: String? = nil) throws -> (status: Int, body: String) {
        try Curl.request(socket, method, path, body)
    }

    func prerequisites(_ test: String, needsKVM: Bool) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.curl) else {
            try TestEnvironment.skipped(test, because: "curl is absent (\(Self.curl))")
        }
        if needsKVM && !TestEnvironment.hasKVM {
            try TestEnvironment.skipped(test, because: "/dev/kvm is absent")
        }
    }

    @Test func configureStartPauseResumeAndPowerOff() throws {
        try prerequisites("API lifecycle", needsKVM: true)
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("api.sock").path
        let vm = try APIProcess(["--api-sock", socket, "--id", "counter-vm"], directory: directory, socket: socket)
        #expect(vm.waitFor(10) { FileManager.default.fileExists(atPath: socket) }, "no socket: \(vm.stderrText)")

        #expect(try request(socket, "GET", "/").body.contains(#""state":"Not started""#))
        let configure = [
            ("/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 64}"#),
            ("/boot-source", #"{"kernel_image_path": "\#(TestEnvironment.testGuest)", "boot_args": "mode=counter interval_ms=100 count_lines=80"}"#),
        ]
        for (path, body) in configure {
            let response = try request(socket, "PUT", path, body)
            #expect(response.status == 204 && response.body.isEmpty, "\(path): \(response)")
        }
        let refused = try request(socket, "PUT", "/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 64, "vcpus": 2}"#)
        #expect(refused.status == 400 && refused.body.contains("unknown field 'vcpus'"), "\(refused)")
        #expect(try request(socket, "PUT", "/actions", #"{"action_type": "InstanceStart"}"#).status == 204)
        let info = try request(socket, "GET", "/")
        #expect(info.body.contains(#""state":"Running""#) && info.body.contains(#""id":"counter-vm""#), "\(info)")

        #expect(vm.waitFor(30) { vm.lineCount("count ") >= 3 }, "the counter did not start: \(vm.stdoutText)")
        #expect(try request(socket, "PATCH", "/vm", #"{"state": "Paused"}"#).status == 204)
        #expect(try request(socket, "GET", "/").body.contains(#""state":"Paused""#))
        let whilePaused = vm.lineCount("count ")
        // The measurement itself: three seconds in which a running counter prints 30 lines.
        sleep(3)
        #expect(vm.lineCount("count ") == whilePaused, "the guest counted while paused")
        #expect(try request(socket, "PATCH", "/vm", #"{"state": "Resumed"}"#).status == 204)
        #expect(vm.waitFor(10) { vm.lineCount("count ") >= whilePaused + 3 }, "the guest did not resume")

        #expect(vm.exitStatus(within: 60) == 0, "\(vm.stderrText)")
        #expect(vm.lineCount("count ") == 80)
        #expect(!FileManager.default.fileExists(atPath: socket), "the socket outlived swiftlet")
    }

    @Test func theSameVMFromAConfigFileWithoutTheAPI() throws {
        try prerequisites("API config file", needsKVM: true)
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("vm.json")
        try Data("""
            {"boot-source": {"kernel_image_path": "\(TestEnvironment.testGuest)", "boot_args": "mode=counter interval_ms=50 count_lines=5"},
             "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}, "future-section": {}}
            """.utf8).write(to: config)
        let vm = try APIProcess(["--config-file", config.path, "--no-api"], directory: directory, socket: "")
        #expect(vm.exitStatus(within: 60) == 0, "\(vm.stderrText)")
        #expect(vm.lineCount("count ") == 5, "\(vm.stdoutText)")
    }

    @Test func aSecondSwiftletAndAVanishingClientLeaveTheServerServing() throws {
        try prerequisites("API socket", needsKVM: false)
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("api.sock").path
        let first = try APIProcess(["--api-sock", socket], directory: directory, socket: socket)
        #expect(first.waitFor(10) { FileManager.default.fileExists(atPath: socket) }, "no socket: \(first.stderrText)")

        let second = try Swiftlet.run(["--api-sock", socket], timeout: 10)
        #expect(second.status == 1)
        #expect(second.stderrLines.count == 1, "\(second.stderr)")
        #expect(second.stderr.contains("already exists") && second.stderr.contains("stale socket"), "\(second.stderr)")

        // A client that sends half a request and hangs up.
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (offset, byte) in socket.utf8.enumerated() { raw[offset] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(connected == 0)
        let half = "PUT /machine-config HTTP/1.1\r\nContent-Length: 200\r\n\r\n{\"vcpu"
        _ = send(fd, half, half.utf8.count, Int32(MSG_NOSIGNAL))
        close(fd)

        let info = try request(socket, "GET", "/")
        #expect(info.status == 200 && info.body.contains(#""app_name":"Firecracker""#), "\(info)")
        kill(first.process.processIdentifier, SIGTERM)
        #expect(first.exitStatus(within: 10) == 128 + SIGTERM)
        #expect(!FileManager.default.fileExists(atPath: socket), "the socket outlived swiftlet")
    }
}

/// curl on a Unix socket: an HTTP client that is not our server code.
enum Curl {
    static let path = "/usr/bin/curl"

    /// One request: the status and the body.
    static func request(_ socket: String, _ method: String, _ path: String, _ body: String? = nil) throws -> (status: Int, body: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.path)
        var arguments = ["-s", "-S", "--max-time", "30", "--unix-socket", socket, "-X", method, "-w", "\n%{http_code}", "http://localhost" + path]
        if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
    }
}
