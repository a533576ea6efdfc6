import Foundation
import Testing

/// Linux's own virtio-vsock driver against ours: the test kernel binds the device, reads
/// guest_cid and posts its receive and event buffers; a host CONNECT to a port nobody in
/// the guest listens on is refused by the guest kernel (its RST closes the host
/// connection without OK) and swiftlet stays up. No user space: `root=/dev/vdz rootwait`
/// keeps the kernel waiting, alive, for a disk that never comes.
@Suite struct LinuxVsockTests {
    @Test func linuxBindsTheDeviceAndRefusesAnUnlistenedPort() throws {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("Linux vsock", because: "/dev/kvm is absent")
        }
        guard let kernel = TestEnvironment.testVmlinux else {
            Issue.record("test kernel missing; run scripts/images test-kernel (scripts/test does)")
            return
        }
        let config = URL(fileURLWithPath: kernel).deletingLastPathComponent().appendingPathComponent("config")
        if let text = try? String(contentsOf: config, encoding: .utf8), !text.contains("CONFIG_VIRTIO_VSOCKETS=y") {
            try TestEnvironment.skipped("Linux vsock", because: "the test kernel has no CONFIG_VIRTIO_VSOCKETS; rebuild it with scripts/images test-kernel")
        }
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("v.sock").path
        let stdoutURL = directory.appendingPathComponent("stdout"), stderrURL = directory.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.swiftletBinary)
        process.arguments = ["--verbose", "--vsock", "cid=3,uds=\(path)", "256", kernel, "console=ttyS0", "root=/dev/vdz", "rootwait"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
        defer {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        func stderrText() -> String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
        func stdoutText() -> String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
        let name = "virtio vsock (cid 3, \(path))"

        // The driver reaches DRIVER_OK with all three queues (1-2 minutes on PVM).
        let started = "\(name): driver started it"
        let deadline = Date().addingTimeInterval(600)
        while !stderrText().contains(started) && !stdoutText().contains("Waiting for root device") {
            guard process.isRunning, Date() < deadline else {
                Issue.record("the vsock driver never started; stderr tail: \(stderrText().suffix(2000))")
                return
            }
            usleep(250_000)
        }
        #expect(stderrText().contains("\(started): features 0x130000000, queue sizes [256, 256, 256]"))
        // It read guest_cid from our configuration space.
        while !stderrText().contains("\(name): driver read guest_cid 3") {
            guard process.isRunning, Date() < deadline else {
                Issue.record("the driver never read guest_cid; stderr tail: \(stderrText().suffix(2000))")
                return
            }
            usleep(250_000)
        }
        // Its receive and event buffers: kicks on queues 0 and 2.
        while !(stderrText().contains("\(name): queue 0 kicked") && stderrText().contains("\(name): queue 2 kicked")) {
            guard process.isRunning, Date() < deadline else {
                Issue.record("no rx/event buffers were posted; stderr tail: \(stderrText().suffix(2000))")
                return
            }
            usleep(250_000)
        }
        // guest_cid came from our config space: af_vsock registers once the transport is up.
        while !stdoutText().contains("NET: Registered PF_VSOCK protocol family") {
            guard process.isRunning, Date() < deadline else {
                Issue.record("vsock never registered; stdout tail: \(stdoutText().suffix(2000))")
                return
            }
            usleep(250_000)
        }

        // A CONNECT to a port nobody listens on: REQUEST goes in, the kernel's RST comes
        // back on the transmit queue, and we are closed without an OK.
        let transmitsBefore = stderrText().components(separatedBy: "\(name): queue 1 kicked").count
        let client = try UnixSocket.connect(path)
        try client.write(Array("CONNECT 52\n".utf8))
        let answer = try client.readToEnd(timeout: 30)
        #expect(answer.isEmpty, "the host got \(String(decoding: answer, as: UTF8.self)) for a port nobody listens on")
        // The RST the kernel sent is a transmit kick after our REQUEST.
        let waitRST = Date().addingTimeInterval(10)
        while stderrText().components(separatedBy: "\(name): queue 1 kicked").count <= transmitsBefore && Date() < waitRST {
            usleep(100_000)
        }
        #expect(stderrText().components(separatedBy: "\(name): queue 1 kicked").count > transmitsBefore,
                "the guest kernel sent nothing back")
        #expect(stderrText().contains("host CONNECT, REQUEST to the guest"))
        #expect(stderrText().contains(": RST from the guest"), "no RST from the guest kernel: \(stderrText().suffix(2000))")
        #expect(process.isRunning, "swiftlet ended: \(stderrText().suffix(2000))")

        process.terminate()
        process.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: path), "swiftlet left its socket behind")
    }
}
