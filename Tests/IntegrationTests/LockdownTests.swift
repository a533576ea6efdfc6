import Foundation
import Testing

/// What the process gives up after set-up (ProcessLockdown): with --uid/--gid it runs as
/// nobody with no capabilities, and the guest still boots, reads its disk and survives a
/// reset, since everything privileged was opened before the drop.
@Suite struct LockdownTests {
    static let nobody = ["--uid", "65534", "--gid", "65534"]

    /// Root (or CAP_SETUID/CAP_SETGID) to drop from, and KVM to run on.
    func requirePrivilegeAndKVM(_ test: String) throws {
        guard TestEnvironment.hasKVM else { try TestEnvironment.skipped(test, because: "/dev/kvm is absent") }
        guard getuid() == 0 else { try TestEnvironment.skipped(test, because: "not root: there is no privilege to drop") }
    }

    /// The lines of /proc/PID/status as key → value.
    static func status(of pid: Int32) throws -> [String: String] {
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    /// A counting guest, watched while it runs: once it prints, set-up is long over.
    @Test func noCapabilitiesAfterStartUp() throws {
        try requirePrivilegeAndKVM("no capabilities after start-up")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.swiftletBinary)
        process.arguments = Self.nobody + ["64", TestEnvironment.testGuest, "mode=counter", "interval_ms=50", "count_lines=200"]
        let stdout = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        // The first counter line comes from the guest, which runs only after the lockdown.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("\n") {
            let chunk = stdout.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            seen.append(chunk)
        }
        #expect(!seen.isEmpty, "the guest printed nothing")
        let fields = try Self.status(of: process.processIdentifier)
        #expect(fields["CapEff"] == "0000000000000000", "\(fields)")
        #expect(fields["CapPrm"] == "0000000000000000", "\(fields)")
        #expect(fields["Uid"]?.split(separator: "\t").allSatisfy { $0 == "65534" } == true, "\(fields["Uid"] ?? "")")
        #expect(fields["Gid"]?.split(separator: "\t").allSatisfy { $0 == "65534" } == true, "\(fields["Gid"] ?? "")")
        #expect(fields["Groups"] == "", "supplementary groups kept: \(fields["Groups"] ?? "")")
        #expect(fields["NoNewPrivs"] == "1")
        // Every thread shares the credentials (glibc's setuid reaches all of them).
        for task in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/task") {
            let text = try String(contentsOfFile: "/proc/\(process.processIdentifier)/task/\(task)/status", encoding: .utf8)
            #expect(text.contains("CapEff:\t0000000000000000"), "thread \(task) kept capabilities")
        }
    }

    @Test func theGuestStillReadsItsDiskAfterTheDrop() throws {
        try requirePrivilegeAndKVM("a disk after the privilege drop")
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let disk = dir.appendingPathComponent("disk.img")
        try Data(count: 4 << 20).write(to: disk)
        // Only root may open it: the guest can reach it only through what was opened before.
        chmod(disk.path, 0o600)
        let run = try Swiftlet.run(
            Self.nobody + ["--verbose", "--block=\(disk.path)", "64", TestEnvironment.testGuest,
                           "mode=virtio-all", "require=console,blk,rng", "console_rx=0", "expect_sectors=8192",
                           "blk_write=1", "blk_read=1"], timeout: 120)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stderr.contains("locked down:"), "\(run.stderr)")
        for check in ["blk-init", "blk-write", "blk-flush", "blk-read"] {
            #expect(run.stdout.contains("ok \(check)\n"), "no 'ok \(check)' in \(run.stdout)")
        }
    }

    /// A reset builds a new KVM VM from the /dev/kvm descriptor opened as root.
    @Test func theGuestSurvivesAResetAfterTheDrop() throws {
        try requirePrivilegeAndKVM("a reset after the privilege drop")
        let run = try Swiftlet.run(
            Self.nobody + ["--verbose", "--reset-limit", "1", "64", TestEnvironment.testGuest, "mode=reset-acpi"], timeout: 120)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stderr.contains("locked down:"), "\(run.stderr)")
        #expect(run.stderr.contains("booting it again (boot 2)"), "\(run.stderr)")
        #expect(run.stdout.contains("testguest: second start, powering off"))
    }

    /// A drop the process may not make ends start-up with one line, before the guest runs:
    /// root without CAP_SETGID and CAP_SETUID (setpriv takes them out of the bounding set,
    /// so they are gone after exec) cannot even clear its supplementary groups.
    @Test func aDropThatFailsEndsStartUp() throws {
        try requirePrivilegeAndKVM("a failed drop")
        let run = try Swiftlet.run(Self.nobody + ["64", TestEnvironment.testGuest, "mode=counter"], timeout: 60,
                                   launcher: ["/usr/bin/setpriv", "--bounding-set", "-setuid,-setgid", "--"])
        #expect(run.status == 1, "stderr: \(run.stderr)")
        #expect(run.stderr == "swiftlet: cannot lock the process down: setgroups failed: Operation not permitted\n")
        #expect(run.stdout.isEmpty, "the guest ran: \(run.stdout)")
    }

    /// A descriptor our parent leaves open (not close-on-exec) is closed before the guest
    /// runs. Spawned by hand: Foundation's Process needs swiftlet to keep such a one.
    @Test func inheritedDescriptorsAreClosed() throws {
        guard TestEnvironment.hasKVM else { try TestEnvironment.skipped("inherited descriptors", because: "/dev/kvm is absent") }
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let secret = dir.appendingPathComponent("secret").path
        let output = dir.appendingPathComponent("stdout").path
        let leaked = open(secret, O_RDWR | O_CREAT, 0o600)
        try #require(leaked >= 0)
        defer { close(leaked) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let command = [TestEnvironment.swiftletBinary, "64", TestEnvironment.testGuest, "mode=counter", "interval_ms=50", "count_lines=200"]
        let argv = command.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let environment = ProcessInfo.processInfo.environment.filter { $0.key != "SWIFTLET_KEEP_INHERITED_FDS" }
            .map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for entry in environment { free(entry) } }
        var pid: pid_t = 0
        try #require(posix_spawn(&pid, command[0], &actions, nil, argv, environment) == 0)
        let pidfd = Spawned.pidfdOpen(pid)
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            if pidfd >= 0 { close(pidfd) }
        }
        try #require(pidfd >= 0)
        // The guest counts only after set-up: once its first line is out, main is long past.
        var printed = false
        for _ in 0..<200 where !printed {
            printed = ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("\n")
            // Waits on the process, not the clock: ends early if it exits.
            if !printed && Spawned.exited(pidfd, withinMilliseconds: 50) { break }
        }
        try #require(printed, "the guest printed nothing")
        let open = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap { fd in
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")
        }
        #expect(!open.contains(secret), "the inherited descriptor is still open: \(open)")
    }

    /// In API mode the drop waits for InstanceStart: before it the process keeps what it
    /// needs to open what PUTs name; after it, nothing. A late PATCH /drives then opens its
    /// file as nobody.
    @Test func apiModeDropsAtInstanceStart() throws {
        try requirePrivilegeAndKVM("the drop at InstanceStart")
        guard FileManager.default.isExecutableFile(atPath: Curl.path) else {
            try TestEnvironment.skipped("the drop at InstanceStart", because: "curl is absent (\(Curl.path))")
        }
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("api.sock").path
        let vm = try APISocketTests.APIProcess(["--api-sock", socket] + Self.nobody, directory: directory, socket: socket)
        #expect(vm.waitFor(10) { FileManager.default.fileExists(atPath: socket) }, "no socket: \(vm.stderrText)")
        let pid = vm.process.processIdentifier
        #expect(try Self.status(of: pid)["CapEff"] != "0000000000000000", "privileges dropped before InstanceStart")

        for (path, body) in [
            ("/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 64}"#),
            ("/boot-source", #"{"kernel_image_path": "\#(TestEnvironment.testGuest)", "boot_args": "mode=counter interval_ms=50 count_lines=60"}"#),
        ] {
            #expect(try Curl.request(socket, "PUT", path, body).status == 204, "\(path)")
        }
        #expect(try Curl.request(socket, "PUT", "/actions", #"{"action_type": "InstanceStart"}"#).status == 204)
        let fields = try Self.status(of: pid)
        #expect(fields["CapEff"] == "0000000000000000", "\(fields)")
        #expect(fields["Uid"]?.split(separator: "\t").allSatisfy { $0 == "65534" } == true, "\(fields["Uid"] ?? "")")
        #expect(vm.waitFor(30) { vm.lineCount("count ") >= 3 }, "the counter did not start: \(vm.stdoutText)")
        #expect(vm.exitStatus(within: 60) == 0, "\(vm.stderrText)")
    }
}
