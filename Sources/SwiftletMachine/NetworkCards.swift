#if canImport(Glibc)
import Glibc
#endif
import Logging
import SwiftletDevices
import SwiftletHost

/// The guest's network cards (--tunnet). The taps are made once per run, before the first
/// boot, and outlive resets, so the host side keeps its address (and a DHCP server its
/// interface); each boot puts a fresh virtio-net device on them.
///
/// A failure part way closes the taps already made, which destroys them: nothing is left.
final class NetworkCards: Sendable {
    struct Card: Sendable {
        let tap: Tap
        let mac: [UInt8]
    }

    let cards: [Card]

    init(_ networks: [MachineConfig.Network], logger: Logger) throws(NetworkError) {
        var cards: [Card] = []
        for network in networks {
            let tap: Tap
            if case .existingTap(let name) = network.attachment {
                tap = try Tap(pattern: name)
            } else {
                tap = try Tap()
            }
            switch network.attachment {
            case .existingTap(let name):
                logger.info("network: existing tap \(name)")
            case .hostAddress(let text):
                var address = in_addr()
                guard inet_pton(AF_INET, text, &address) == 1 else { throw .failed(what: text, errno: EINVAL) }
                try tap.assign(address: address)
                logger.info("network: tap \(tap.name) with host address \(text)/24")
            case .bridge(let bridge):
                try tap.join(bridge: bridge)
                logger.info("network: tap \(tap.name) on bridge \(bridge)")
            }
            cards.append(Card(tap: tap, mac: network.mac ?? Self.mac(forTap: tap.name)))
        }
        self.cards = cards
    }

    /// Puts a virtio-net device on each tap for this boot.
    func attach(to slots: any VirtioDeviceSlots, loop: EventLoop, logger: Logger,
                trace: (String) -> @Sendable (String) -> Void) throws {
        for (index, card) in cards.enumerated() {
            let backend = TapBackend(tap: card.tap, loop: loop, logger: logger)
            let name = "virtio net \(index) (\(card.tap.name))"
            let device = TransportedDevice(VirtioNet(mac: card.mac, backend: backend), trace: trace(name))
            backend.onReadable = { [weak device] in
                device?.withCore { core, interrupt in
                    do {
                        if try core.backendReadable() { interrupt?.signalUsed(queue: VirtioNetProtocol.receiveQueue) }
                    } catch {
                        interrupt?.signalNeedsReset()
                    }
                }
            }
            try slots.plug(device, name: name)
            logger.debug("\(name): MAC \(Self.format(card.mac))")
        }
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
