import Foundation
import Testing

/// The test kernel configured and started over Firecracker's API as Kata would: a root
/// drive and a tap the test made itself (`host_dev_name`), Firecracker-style. It gets a
/// DHCP lease through our virtio-net, then waits (rootdelay) before mounting its root, so
/// no init can have disabled Ctrl+Alt+Del; SendCtrlAltDel must then restart it, and a
/// restart ends swiftlet in API mode. One boot of the test kernel: minutes on PVM.
@Suite struct LinuxAPITests {
    @Test func linuxOverTheAPIGetsALeaseAndRestartsOnCtrlAltDel() throws {
        if let reason = NetworkNamespace.unusableReason {
            try TestEnvironment.skipped("Linux over the API", because: reason)
        }
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("Linux over the API", because: "/dev/kvm is absent")
        }
        guard let kernel = TestEnvironment.testBzImage ?? TestEnvironment.testVmlinux else {
            Issue.record("test kernel missing; run scripts/images test-kernel (scripts/test does)")
            return
        }
        let dnsmasq = "/usr/sbin/dnsmasq"
        for tool in [dnsmasq, Curl.path] where !FileManager.default.fileExists(atPath: tool) {
            Issue.record("\(tool) missing; run scripts/install-deps")
            return
        }
        let ns = try NetworkNamespace()
        defer { withExtendedLifetime(ns) {} }
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }

        // The tap is ours, made before swiftlet starts, as Firecracker's clients do.
        for command in [["tuntap", "add", "fctap0", "mode", "tap"], ["addr", "add", "10.0.2.1/24", "dev", "fctap0"],
                        ["link", "set", "fctap0", "up"]] {
            let result = ns.ip(command)
            try #require(result.status == 0, "ip \(command): \(result.output)")
        }
        let mac = "06:00:ac:10:00:02"
        let dnsmasqLog = directory.appendingPathComponent("dnsmasq.log")
        let dhcp = try ns.startDaemon(
            [dnsmasq, "--conf-file=/dev/null", "--port=0", "--interface=fctap0", "--bind-dynamic",
             "--dhcp-range=10.0.2.15,10.0.2.50,255.255.255.0", "--dhcp-host=\(mac),10.0.2.15",
             "--dhcp-leasefile=\(directory.path)/leases", "--log-dhcp", "--log-facility=\(dnsmasqLog.path)",
             "--pid-file=\(directory.path)/dnsmasq.pid"],
            pidFile: directory.appendingPathComponent("dnsmasq.pid"), output: directory.appendingPathComponent("dnsmasq.out"))
        defer { dhcp.stop() }
        let disk = directory.appendingPathComponent("root.img")
        try Data(count: 1 << 20).write(to: disk)

        let socket = directory.appendingPathComponent("api.sock").path
        let log = StreamLog()
        let swiftlet = try ns.spawn([TestEnvironment.swiftletBinary, "--api-sock", socket, "--id", "linux"], log: log, stream: "swiftlet")
        let finished = DispatchSemaphore(value: 0)
        swiftlet.terminationHandler = { _ in
            log.poke()
            finished.signal()
        }
        #expect(log.wait(until: .now() + 10) { FileManager.default.fileExists(atPath: socket) }, "no socket: \(log.text("swiftlet"))")
        let configuration = [
            ("/machine-config", #"{"vcpu_count": 1, "mem_size_mib": 256}"#),
            ("/boot-source", #"{"kernel_image_path": "\#(kernel)", "boot_args": "console=ttyS0 reboot=k panic=1 ip=dhcp rootdelay=900"}"#),
            ("/drives/rootfs", #"{"drive_id": "rootfs", "path_on_host": "\#(disk.path)", "is_root_device": true, "is_read_only": true, "rate_limiter": {}}"#),
            ("/network-interfaces/eth0", #"{"iface_id": "eth0", "host_dev_name": "fctap0", "guest_mac": "\#(mac)", "rx_rate_limiter": {}, "tx_rate_limiter": {}}"#),
            ("/actions", #"{"action_type": "InstanceStart"}"#),
        ]
        for (path, body) in configuration {
            let response = try Curl.request(socket, "PUT", path, body)
            try #require(response.status == 204, "\(path): \(response); \(log.text("swiftlet").suffix(2000))")
        }

        let lease = "IP-Config: Got DHCP answer from 10.0.2.1, my address is 10.0.2.15"
        let waiting = "Waiting 900 sec before mounting root device"
        let held = log.wait(until: .now() + 1500) {
            log.text("swiftlet").contains(waiting) || !swiftlet.isRunning
        }
        let console = log.text("swiftlet")
        #expect(held && swiftlet.isRunning, "the kernel never waited for its root: \(console.suffix(3000))")
        #expect(console.contains(lease), "no lease; dnsmasq: \(((try? String(contentsOf: dnsmasqLog, encoding: .utf8)) ?? "").suffix(1500))")
        #expect(console.contains("root=/dev/vda ro"), "the root drive's arguments are not on the command line")

        #expect(try Curl.request(socket, "PUT", "/actions", #"{"action_type": "SendCtrlAltDel"}"#).status == 204)
        let ended = finished.wait(timeout: .now() + 600) == .success
        if !ended { kill(swiftlet.processIdentifier, SIGKILL) }
        swiftlet.waitUntilExit()
        _ = log.wait(until: .now() + 10) { log.isClosed("swiftlet") }
        #expect(ended, "swiftlet did not end after Ctrl+Alt+Del: \(log.text("swiftlet").suffix(2000))")
        #expect(swiftlet.terminationStatus == 0)
        #expect(log.text("swiftlet").contains("reboot: Restarting system"), "\(log.text("swiftlet").suffix(2000))")
        #expect(!FileManager.default.fileExists(atPath: socket), "the socket outlived swiftlet")
        #expect(ns.interfaces.contains("fctap0"), "swiftlet removed a tap that was not its own")
    }

    /// The other half of what InstanceStart builds for Linux: Firecracker's configuration
    /// file (no socket), a root drive, and the `pci=off` Firecracker's clients add. Our
    /// `root=/dev/vda rw` must reach the kernel, which mounts the ext4 drive read-write over
    /// virtio-mmio (the API's transport) and finds no init on it; the test stops there.
    @Test func linuxFromAConfigFileMountsItsRootDriveOverMMIO() throws {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("Linux root drive from a config file", because: "/dev/kvm is absent")
        }
        guard let kernel = TestEnvironment.testVmlinux else {
            Issue.record("test kernel missing; run scripts/images test-kernel (scripts/test does)")
            return
        }
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let image = directory.appendingPathComponent("root.ext4")
        try Data(count: 32 << 20).write(to: image)
        let mkfs = Process()
        mkfs.executableURL = URL(fileURLWithPath: "/sbin/mkfs.ext4")
        mkfs.arguments = ["-q", "-F", image.path]
        try mkfs.run()
        mkfs.waitUntilExit()
        try #require(mkfs.terminationStatus == 0, "mkfs.ext4 failed")
        let config = directory.appendingPathComponent("vm.json")
        try Data("""
            {"boot-source": {"kernel_image_path": "\(kernel)", "boot_args": "console=ttyS0 reboot=k panic=1 pci=off"},
             "drives": [{"drive_id": "rootfs", "path_on_host": "\(image.path)", "is_root_device": true, "is_read_only": false}],
             "machine-config": {"vcpu_count": 1, "mem_size_mib": 256}}
            """.utf8).write(to: config)
        let run = try Swiftlet.run(["--config-file", config.path, "--no-api"], timeout: 900,
                                   until: "EXT4-fs (vda): mounted filesystem")
        let log = run.stdout
        #expect(run.stoppedAtMarker, "vda was never mounted; tail: \(log.suffix(3000)) stderr: \(run.stderr.suffix(1500))")
        #expect(log.contains("pci=off") && log.contains("root=/dev/vda rw"), "our root arguments are not on the kernel's line")
        // No PCI bus exists: the disk virtio_blk drives is our virtio-mmio one.
        #expect(log.contains("virtio_blk virtio") && log.contains("[vda] 65536 512-byte logical blocks"), "no virtio disk")
        #expect(!log.contains("PCI host bridge"), "a PCI host bridge was found although the devices are on virtio-mmio")
        #expect(log.contains("EXT4-fs (vda): mounted filesystem") && !log.contains("mounted filesystem readonly"))
    }
}
