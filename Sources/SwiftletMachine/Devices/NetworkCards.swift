#if canImport(Glibc)
import Glibc
#endif
import Logging
import SwiftletDevices
import SwiftletHost

/// The guest's network cards (--tunnet, or an API client's existing taps). The taps are
/// made or opened once per run, before the first boot, and outlive resets, so the host
/// side keeps its address (and a DHCP server its interface); each boot puts a fresh
/// virtio-net device on them.
///
/// A failure part way closes the taps already made, which destroys them: nothing is left.
enum NetworkCards {
    static func specs(for networks: [MachineConfig.Network], logger: Logger) throws(NetworkError) -> [NetworkSpec] {
        var specs: [NetworkSpec] = []
        for (index, network) in networks.enumerated() {
            let tap: Tap
            switch network.attachment {
            case .existingTap(let name):
                tap = try Tap(pattern: name)
                logger.info("network: existing tap \(name)")
            case .hostAddress(let text):
                tap = try Tap()
                var address = in_addr()
                guard inet_pton(AF_INET, text, &address) == 1 else { throw .failed(what: text, errno: EINVAL) }
                try tap.assign(address: address)
                logger.info("network: tap \(tap.name) with host address \(text)/24")
            case .bridge(let bridge):
                tap = try Tap()
                try tap.join(bridge: bridge)
                logger.info("network: tap \(tap.name) on bridge \(bridge)")
            }
            specs.append(NetworkSpec(index: index, tap: tap, mac: network.mac ?? mac(forTap: tap.name)))
        }
        return specs
    }

    /// A locally administered unicast MAC (02:...) from the tap's name: the same tap name
    /// gives the same MAC every run, so the guest's DHCP lease survives a restart.
    static func mac(forTap name: String) -> [UInt8] {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return [0x02] + (0..<5).map { UInt8(truncatingIfNeeded: hash >> (8 * $0)) }
    }

    static func format(_ mac: [UInt8]) -> String {
        mac.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }
}

/// A virtio network card on a tap kept for the whole run.
final class NetworkSpec: DeviceSpec {
    let name: String
    let tap: Tap
    let mac: [UInt8]

    init(index: Int, tap: Tap, mac: [UInt8]) {
        self.tap = tap
        self.mac = mac
        name = "virtio net \(index) (\(tap.name))"
    }

    func build(in boot: DeviceBuildContext) throws -> any VirtioDevice {
        let backend = TapBackend(tap: tap, loop: boot.loop, logger: boot.logger)
        let device = TransportedDevice(VirtioNet(mac: mac, backend: backend), trace: boot.trace(name))
        // A device that failed has already let go of the tap (VirtioNet), and
        // withRunningCore keeps a readiness report still in flight from reaching it.
        backend.onReadable = { [weak device] in
            _ = device?.withRunningCore(interrupting: VirtioNetProtocol.receiveQueue) { core throws(VirtqueueError) in
                ((), interrupt: try core.backendReadable())
            }
        }
        boot.logger.debug("\(name): MAC \(NetworkCards.format(mac))")
        return device
    }
}
