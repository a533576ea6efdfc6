import Foundation
import Testing

/// Swiftlet's virtio-net on a tap, driven by the test guest's own driver: ARP for the
/// host, ICMP echoes answered by the host kernel, and a burst of UDP datagrams that a
/// socket on the host must receive whole and in order. Everything happens inside a
/// network namespace of the test's own: no packet leaves the machine.
@Suite struct NetworkTestGuestTests {
    /// Counts datagrams on 10.0.2.1:7777 (once swiftlet's tap has that address) and says
    /// whether they came in sequence order with their payload intact.
    static let receiver = """
        import socket, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE: hold the whole burst
        for _ in range(600):
            try:
                s.bind(("10.0.2.1", 7777)); break
            except OSError:
                time.sleep(0.1)
        s.settimeout(60)
        count, in_order, intact = 0, True, True
        try:
            while count < 1000:
                data, _ = s.recvfrom(4096)
                seq = int.from_bytes(data[:4], "big")
                in_order &= seq == count
                intact &= len(data) == 512 and all(data[k] == (k * 7 + seq) & 0xFF for k in range(4, len(data)))
                count += 1
        except OSError:
            pass
        print(f"received {count} in_order={in_order} intact={intact}", flush=True)
        """

    /// Over virtio-pci and over virtio-mmio alike; and as nobody (--uid/--gid 65534), when
    /// the tap was opened as root before the drop and serves on.
    @Test(arguments: zip(["pci", "mmio", "pci"], [false, false, true]))
    func testGuestTalksToTheHostThroughATap(transport: String, asNobody: Bool) throws {
        guard TestEnvironment.hasKVM, FileManager.default.fileExists(atPath: "/dev/net/tun") else {
            try TestEnvironment.skipped("virtio-net test guest", because: "/dev/kvm or /dev/net/tun is absent")
        }
        let namespace = "swtg\(UInt32.random(in: 0..<1_000_000))"
        #expect(run("/usr/sbin/ip", ["netns", "add", namespace]) == 0)
        defer { _ = run("/usr/sbin/ip", ["netns", "del", namespace]) }

        let listener = Process()
        listener.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        listener.arguments = ["netns", "exec", namespace, "python3", "-c", Self.receiver]
        let listened = Pipe()
        listener.standardOutput = listened
        try listener.run()
        defer { if listener.isRunning { listener.terminate() } }

        let guest = try Swiftlet.run(
            (asNobody ? ["--uid", "65534", "--gid", "65534"] : []) + ["--transport", transport, "--tunnet=10.0.2.1", "64", TestEnvironment.testGuest, "transport=\(transport)",
             "mode=virtio-net", "net_ip=10.0.2.15", "net_host=10.0.2.1",
             "net_ping=20", "net_ping_size=1400", "net_udp=1000", "net_udp_port=7777"],
            timeout: 300, launcher: ["/usr/sbin/ip", "netns", "exec", namespace])
        listener.waitUntilExit()
        let heard = String(decoding: listened.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)

        #expect(guest.status == 0, "stderr: \(guest.stderr)")
        // virtio-mmio adds its discovery check.
        #expect(guest.stdout.contains("testguest: \(transport == "mmio" ? 5 : 4) checks, 0 failed"), "\(guest.stdout)")
        #expect(guest.stdout.contains("ok net-arp"))
        #expect(guest.stdout.contains("virtio-net: 20/20 replies"))
        #expect(heard.contains("received 1000 in_order=True intact=True"), "host listener: \(heard)")
        // The tap went with swiftlet.
        #expect(!output("/usr/sbin/ip", ["-n", namespace, "link"]).contains("swiftlet"))
    }

    func run(_ path: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func output(_ path: String, _ arguments: [String]) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
