import Foundation
import Testing

/// A guest that breaks its virtio-net receive ring while the host floods its tap must not
/// be able to busy the host (issue 17): the device needs a reset and stops reading the
/// tap, so the level-triggered event loop has nothing to call it for.
@Suite struct HostileNetworkTests {
    /// Broadcasts to the guest's subnet, a burst every 50 ms for a minute at most: the tap
    /// always has frames waiting, whoever reads it.
    static let flood = """
        import socket, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        print("flooding", flush=True)
        end = time.time() + 60
        while time.time() < end:
            for _ in range(64):
                try:
                    s.sendto(b"x" * 512, ("10.0.2.255", 9))
                except OSError:
                    pass  # the tap's queue is full: nobody reads it, as intended
            time.sleep(0.05)
        """

    @Test func aBrokenReceiveRingUnderAFloodLeavesTheHostIdle() throws {
        if let reason = NetworkNamespace.unusableReason {
            try TestEnvironment.skipped("broken rx ring under a flood", because: reason)
        }
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("broken rx ring under a flood", because: "/dev/kvm is absent")
        }
        let ns = try NetworkNamespace()
        // No IPv6 chatter on the new tap: every frame the guest gets is the flood's.
        #expect(NetworkNamespace.command(NetworkNamespace.ip, [
            "netns", "exec", ns.name, "sysctl", "-qw",
            "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
        ]).status == 0)
        let log = StreamLog()
        // `ip netns exec` execs swiftlet: the process is swiftlet itself.
        let swiftlet = try ns.spawn(
            [TestEnvironment.swiftletBinary, "--tunnet=10.0.2.1", "64", TestEnvironment.testGuest, "mode=net-break-rx"],
            log: log, stream: "swiftlet")
        defer {
            if swiftlet.isRunning { swiftlet.terminate() }
            swiftlet.waitUntilExit()
        }
        let broken = log.wait(until: .now() + 120) {
            log.text("swiftlet").contains("net-break-rx: receive ring broken") || !swiftlet.isRunning
        }
        try #require(broken && swiftlet.isRunning, "\(log.text("swiftlet"))")

        let flooder = try ns.spawn(["python3", "-c", Self.flood], log: log, stream: "flood")
        defer { if flooder.isRunning { kill(flooder.processIdentifier, SIGKILL) } }
        let halted = log.wait(until: .now() + 120) {
            log.text("swiftlet").contains("testguest: hanging") || !swiftlet.isRunning
        }
        let output = log.text("swiftlet")
        try #require(halted && swiftlet.isRunning, "\(output)")
        #expect(output.contains("ok net-rx-needs-reset"), "\(output)")

        // The guest is halted and the tap is full: whatever CPU swiftlet uses now is the
        // device thread's, and it should have nothing to do.
        let window = 5.0
        let before = try Self.cpuSeconds(of: swiftlet.processIdentifier)
        Thread.sleep(forTimeInterval: window)
        let after = try Self.cpuSeconds(of: swiftlet.processIdentifier)
        #expect(flooder.isRunning, "the flood stopped early: \(log.text("flood"))")
        #expect(swiftlet.isRunning)
        #expect(after - before < 0.05 * window, "swiftlet used \(after - before) s of CPU in \(window) s")
    }

    /// The host side can fail too: a tap deleted under a listening device polls as an
    /// error for ever after, and a level-triggered loop that kept watching it would spin.
    @Test func aTapDeletedUnderTheDeviceLeavesTheHostIdle() throws {
        if let reason = NetworkNamespace.unusableReason {
            try TestEnvironment.skipped("tap deleted under the device", because: reason)
        }
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("tap deleted under the device", because: "/dev/kvm is absent")
        }
        let ns = try NetworkNamespace()
        let log = StreamLog()
        let swiftlet = try ns.spawn(
            [TestEnvironment.swiftletBinary, "--tunnet=10.0.2.1", "64", TestEnvironment.testGuest, "mode=net-listen"],
            log: log, stream: "swiftlet")
        defer {
            if swiftlet.isRunning { swiftlet.terminate() }
            swiftlet.waitUntilExit()
        }
        let listening = log.wait(until: .now() + 120) {
            log.text("swiftlet").contains("testguest: hanging") || !swiftlet.isRunning
        }
        try #require(listening && swiftlet.isRunning, "\(log.text("swiftlet"))")
        let tap = try #require(ns.interfaces.first { $0.hasPrefix("swiftlet") }, "no tap in \(ns.interfaces)")
        #expect(ns.ip(["link", "del", tap]).status == 0)

        let window = 5.0
        let before = try Self.cpuSeconds(of: swiftlet.processIdentifier)
        Thread.sleep(forTimeInterval: window)
        let after = try Self.cpuSeconds(of: swiftlet.processIdentifier)
        #expect(swiftlet.isRunning, "\(log.text("swiftlet"))")
        #expect(after - before < 0.05 * window, "swiftlet used \(after - before) s of CPU in \(window) s")
        // Said once, not at every readiness report.
        #expect(log.text("swiftlet").components(separatedBy: "\(tap): read failed").count == 2, "\(log.text("swiftlet"))")
    }

    /// User plus system time of every thread of `pid` so far (/proc/PID/stat fields 14 and
    /// 15, in clock ticks).
    static func cpuSeconds(of pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The command name may hold spaces and parentheses: fields start after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { throw NetworkTestError("odd /proc/\(pid)/stat: \(stat)") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): utime is field 14, stime 15.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw NetworkTestError("odd /proc/\(pid)/stat: \(stat)")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
