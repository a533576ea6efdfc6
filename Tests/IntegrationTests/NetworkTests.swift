import Foundation
import Testing

/// --tunnet end to end, each test in its own network namespace: the errors (one line,
/// non-zero status, no tap left behind), a tap on a bridge and the test guest's traffic
/// across it, and Linux's virtio-net driver getting a DHCP lease through our device and
/// sending its log back over netconsole.
@Suite struct NetworkTests {
    private func namespace(_ test: String) throws -> NetworkNamespace? {
        if let reason = NetworkNamespace.unusableReason {
            try TestEnvironment.skipped(test, because: reason)
        }
        // swiftlet opens KVM before it makes taps.
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped(test, because: "/dev/kvm is absent")
        }
        return try NetworkNamespace()
    }

    @Test func aBadAddressIsAUsageErrorBeforeAnythingIsMade() throws {
        for value in ["10.0.2", "300.1.2.3", "fe80::1", "bridge:"] {
            let run = try Swiftlet.run(["--tunnet=\(value)", "64", "/nonexistent/kernel"])
            #expect(run.status == 2, "--tunnet=\(value)")
            #expect(run.stderrLines.count == 1 && run.stderr.contains("--tunnet:"), "\(run.stderr)")
        }
        let mac = try Swiftlet.run(["--tunnet=10.0.2.1", "--mac=03:00:00:00:00:01", "64", "/nonexistent/kernel"])
        #expect(mac.status == 2 && mac.stderr.contains("multicast"))
        let extra = try Swiftlet.run(["--mac=02:00:00:00:00:01", "64", "/nonexistent/kernel"])
        #expect(extra.status == 2 && extra.stderr.contains("--mac"))
    }

    @Test func aMissingBridgeFailsAndLeavesNoTap() throws {
        guard let ns = try namespace("missing bridge") else { return }
        let log = StreamLog()
        // The first card's tap is made before the second fails: it must go too.
        let run = try ns.runSwiftlet(
            ["--tunnet=10.0.2.1", "--tunnet=bridge:nosuchbr", "64", TestEnvironment.testGuest],
            log: log, timeout: 60, stop: { false })
        let output = log.text("swiftlet")
        #expect(run.status == 1)
        #expect(output.split(separator: "\n").count == 1 && output.contains("no bridge named nosuchbr"), "\(output)")
        #expect(!ns.interfaces.contains { $0.hasPrefix("swiftlet") }, "left behind: \(ns.interfaces)")
    }

    @Test func anInterfaceThatIsNotABridgeIsRefused() throws {
        guard let ns = try namespace("not a bridge") else { return }
        #expect(ns.ip(["link", "add", "v0", "type", "veth", "peer", "name", "v1"]).status == 0)
        let log = StreamLog()
        let run = try ns.runSwiftlet(["--tunnet=bridge:v0", "64", TestEnvironment.testGuest], log: log, timeout: 60, stop: { false })
        #expect(run.status == 1 && log.text("swiftlet").contains("v0 is not a bridge"), "\(log.text("swiftlet"))")
        #expect(!ns.interfaces.contains { $0.hasPrefix("swiftlet") })
    }

    @Test func withoutCapNetAdminTheErrorSaysSo() throws {
        // Root without CAP_NET_ADMIN opens /dev/net/tun but may not make a tap.
        guard let ns = try namespace("no permission") else { return }
        let log = StreamLog()
        let run = try ns.runSwiftlet(
            ["--tunnet=10.0.2.1", "64", TestEnvironment.testGuest], log: log, timeout: 60, stop: { false },
            wrapper: ["/usr/bin/setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin", "--"])
        let output = log.text("swiftlet")
        #expect(run.status == 1, "\(output)")
        #expect(output.split(separator: "\n").count == 1 && output.contains("--tunnet") && output.contains("permission denied"), "\(output)")
        #expect(!ns.interfaces.contains { $0.hasPrefix("swiftlet") })
    }

    @Test func aTapJoinsTheBridgeAndGoesWhenSwiftletEnds() throws {
        guard let ns = try namespace("bridge") else { return }
        #expect(ns.ip(["link", "add", "br0", "type", "bridge"]).status == 0)
        let log = StreamLog()
        var members = ""
        var state = ""
        let run = try ns.runSwiftlet(
            ["--verbose", "--tunnet=bridge:br0", "--tunnet=10.0.3.1", "--mac=02:12:34:56:78:9a", "64",
             TestEnvironment.testGuest, "mode=hang"],
            log: log, timeout: 120, stop: { log.text("swiftlet").contains("testguest: hanging") },
            atStop: {
                members = ns.ip(["-o", "link", "show", "master", "br0"]).output
                state = ns.ip(["-o", "addr", "show", "dev", "swiftlet1"]).output
            })
        let output = log.text("swiftlet")
        #expect(run.stopped, "\(output.suffix(2000))")
        #expect(members.contains("swiftlet0") && members.contains("UP"), "br0's ports: \(members)")
        #expect(state.contains("inet 10.0.3.1/24"), "swiftlet1: \(state)")
        #expect(output.contains("MAC 02:12:34:56:78:9a") || output.contains("MAC 02:12:34:56:78:9a".lowercased()))
        #expect(!ns.interfaces.contains { $0.hasPrefix("swiftlet") }, "left behind: \(ns.interfaces)")
    }

    /// The test guest's ARP and ICMP echoes cross br0 to a veth whose other end, with
    /// 10.0.2.1, is in a second namespace: br0 has no address, so only that end can answer.
    @Test func theTestGuestPingsAcrossTheBridge() throws {
        guard let ns = try namespace("bridge traffic") else { return }
        let far = try NetworkNamespace()
        // Both namespaces must outlive the run, not just their last use.
        defer { withExtendedLifetime((ns, far)) {} }
        let farMAC = "02:0b:00:00:00:01"
        for (space, command) in [
            (ns, ["link", "add", "br0", "type", "bridge"]),
            (ns, ["link", "add", "vb0", "type", "veth", "peer", "name", "vb1", "netns", far.name]),
            (ns, ["link", "set", "vb0", "master", "br0", "up"]),
            (ns, ["link", "set", "br0", "up"]),
            (far, ["link", "set", "vb1", "address", farMAC]),
            (far, ["addr", "add", "10.0.2.1/24", "dev", "vb1"]),
            (far, ["link", "set", "vb1", "up"]),
        ] {
            let result = space.ip(command)
            try #require(result.status == 0, "ip \(command.joined(separator: " ")): \(result.output)")
        }
        let log = StreamLog()
        // No UDP step: its receiver would have to live in the far namespace.
        let run = try ns.runSwiftlet(
            ["--tunnet=bridge:br0", "64", TestEnvironment.testGuest, "mode=virtio-net", "net_ip=10.0.2.15",
             "net_host=10.0.2.1", "net_ping=20", "net_ping_size=1400"],
            log: log, timeout: 120, stop: { false })
        let output = log.text("swiftlet")
        #expect(run.status == 0, "\(output.suffix(2000))")
        #expect(output.contains("testguest: 3 checks, 0 failed"), "\(output.suffix(2000))")
        #expect(output.contains("virtio-net: 10.0.2.1 is at \(farMAC)"), "\(output.suffix(2000))")
        #expect(output.contains("virtio-net: 20/20 replies"))
        #expect(!ns.interfaces.contains { $0.hasPrefix("swiftlet") }, "left behind: \(ns.interfaces)")
    }

    /// The test kernel with `ip=dhcp` and netconsole: its virtio-net driver gets a lease
    /// from dnsmasq on the tap (both directions through our device) and then sends the
    /// kernel's log to a UDP socket here. One boot of the test kernel: minutes on PVM.
    @Test func linuxGetsADHCPLeaseAndLogsOverNetconsole() throws {
        guard let ns = try namespace("Linux DHCP") else { return }
        // The namespace (and the netconsole listener in it) must outlive the last read.
        defer { withExtendedLifetime(ns) {} }
        guard let kernel = TestEnvironment.testVmlinux else {
            Issue.record("test kernel missing; run scripts/images test-kernel (scripts/test does)")
            return
        }
        let dnsmasq = "/usr/sbin/dnsmasq"
        guard FileManager.default.fileExists(atPath: dnsmasq) else {
            Issue.record("dnsmasq missing; run scripts/install-deps (dnsmasq-base)")
            return
        }
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = StreamLog()
        // Daemonized, with its pid and log in our directory (see Daemon for why): DHCP only
        // (port 0), waiting for the tap swiftlet makes (--bind-dynamic).
        let dnsmasqLog = directory.appendingPathComponent("dnsmasq.log")
        let dhcp = try ns.startDaemon(
            [dnsmasq, "--conf-file=/dev/null", "--port=0", "--interface=swiftlet0", "--bind-dynamic",
             "--dhcp-range=10.0.2.15,10.0.2.50,255.255.255.0", "--dhcp-host=02:00:00:00:00:15,10.0.2.15",
             "--dhcp-leasefile=\(directory.path)/leases", "--log-dhcp", "--log-facility=\(dnsmasqLog.path)",
             "--pid-file=\(directory.path)/dnsmasq.pid"],
            pidFile: directory.appendingPathComponent("dnsmasq.pid"), output: directory.appendingPathComponent("dnsmasq.out"))
        // netconsole's lines, one per datagram.
        _ = try ns.spawn(
            ["/usr/bin/python3", "-u", "-c", """
             import socket
             s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
             s.bind(("0.0.0.0", 6666))
             while True:
                 print(s.recv(65536).decode(errors="replace").rstrip(), flush=True)
             """],
            log: log, stream: "netconsole")
        // netconsole starts before IP-Config, so it gets its own address: the one dnsmasq
        // gives the --mac we chose, which the lease then proves the guest used. Without a
        // root file system the kernel panics soon after IP-Config (swiftlet then exits 3);
        // the lines netconsole sends from IP-Config on are all we need, so we stop there.
        let complete = "IP-Config: Complete"
        let run = try ns.runSwiftlet(
            ["--verbose", "--tunnet=10.0.2.1", "--mac=02:00:00:00:00:15", "256", kernel, "console=ttyS0", "ip=dhcp",
             "netconsole=6665@10.0.2.15/eth0,6666@10.0.2.1/"],
            log: log, timeout: 1500, stop: { log.text("netconsole").contains(complete) })
        // A panic may end swiftlet before our stop: its last datagrams are in the socket.
        _ = log.wait(until: .now() + 30) { log.text("netconsole").contains(complete) }
        // dnsmasq writes its log as it goes; stopped, it has written all of it.
        #expect(dhcp.stop(), "dnsmasq (pid \(dhcp.pid)) did not stop")
        let dhcpLog = (try? String(contentsOf: dnsmasqLog, encoding: .utf8)) ?? ""
        let console = log.text("swiftlet")
        let netconsole = log.text("netconsole")
        #expect(run.stopped || run.status == 3, "status \(run.status); tail: \(console.suffix(3000))")
        #expect(console.contains("[1af4:1041]"), "no virtio-net on the PCI bus")
        #expect(console.contains("IP-Config: Got DHCP answer from 10.0.2.1, my address is 10.0.2.15"),
                "no lease; tail: \(console.suffix(2000)); dnsmasq: \(dhcpLog.suffix(1500))")
        #expect(dhcpLog.contains("DHCPACK(swiftlet0) 10.0.2.15 02:00:00:00:00:15"), "dnsmasq: \(dhcpLog.suffix(1500))")
        // What the kernel printed, from the lease on, arrived over UDP.
        #expect(netconsole.contains("IP-Config: Got DHCP answer from 10.0.2.1") && netconsole.contains(complete),
                "netconsole got: \(netconsole.suffix(2000))")
        #expect(console.contains("virtio net 0 (swiftlet0): driver started it"))
    }
}
