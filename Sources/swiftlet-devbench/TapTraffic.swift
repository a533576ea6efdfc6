#if canImport(Glibc)
import Glibc
#endif

/// The frames of the network benchmark and the host's side of the tap.
enum TapTraffic {
    static let deviceMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x01]
    static let hostMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x02]
    /// A MAC no interface has: frames to it end at the tap's receive path (PACKET_OTHERHOST).
    static let nobodyMAC: [UInt8] = [0x02, 0, 0, 0, 0, 0x99]
    static let vnetHeaderSize = 12

    /// An Ethernet frame of `size` bytes (FCS excluded) carrying IPv4/UDP from 10.99.0.2 to
    /// 10.99.0.3, to `destination`.
    static func frame(size: Int, to destination: [UInt8], from source: [UInt8]) -> [UInt8] {
        var frame = destination + source + [0x08, 0x00]
        let ipLength = size - 14
        var ip: [UInt8] = [0x45, 0, UInt8(ipLength >> 8), UInt8(ipLength & 0xFF), 0, 0, 0x40, 0, 64, 17, 0, 0,
                           10, 99, 0, 2, 10, 99, 0, 3]
        var sum: UInt32 = 0
        for index in stride(from: 0, to: ip.count, by: 2) { sum += UInt32(ip[index]) << 8 | UInt32(ip[index + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        ip[10] = UInt8(checksum >> 8)
        ip[11] = UInt8(checksum & 0xFF)
        let udpLength = ipLength - 20
        frame += ip + [0x30, 0x39, 0x30, 0x3A, UInt8(udpLength >> 8), UInt8(udpLength & 0xFF), 0, 0]
        frame += (0..<(size - frame.count)).map { UInt8(truncatingIfNeeded: $0) }
        return frame
    }

    /// Refuses to run beside any interface but loopback, as in a fresh network namespace
    /// (`unshare --net`): there the tap can reach nothing, and it vanishes with us.
    static func requireOwnNetworkNamespace() throws(DevbenchError) {
        guard let list = if_nameindex() else { throw .system("if_nameindex") }
        defer { if_freenameindex(list) }
        var entry = list
        while entry.pointee.if_index != 0 {
            if let name = entry.pointee.if_name, String(cString: name) != "lo" {
                throw DevbenchError(
                    "net: interface \(String(cString: name)) is here; run me in a network namespace of my own (unshare --net ...)")
            }
            entry += 1
        }
        // No IPv6 on the new tap: its router solicitations would land among our frames.
        for path in ["/proc/sys/net/ipv6/conf/default/disable_ipv6", "/proc/sys/net/ipv6/conf/all/disable_ipv6"] {
            guard let file = fopen(path, "w") else { continue }
            fputs("1\n", file)
            fclose(file)
        }
    }

    /// Reads and counts whatever is waiting on the non-blocking `fd`.
    @discardableResult
    static func drain(_ fd: Int32) -> Int {
        var buffer = [UInt8](repeating: 0, count: 1 << 17)
        var count = 0
        while buffer.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) >= 0 { count += 1 }
        return count
    }

    /// Waits (up to a second) for `fd` to become readable.
    static func waitReadable(_ fd: Int32) throws(DevbenchError) {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 1000) == 1 else { throw DevbenchError("the tap stayed silent for a second") }
    }
}

/// The host's end: frames sent out of the tap through an AF_PACKET socket (packet(7)),
/// which the tap's reader then receives, virtio-net header first.
final class PacketInjector {
    private let socket: Int32
    private var address: [UInt8]

    init(interface: String) throws(DevbenchError) {
        let index = if_nametoindex(interface)
        guard index != 0 else { throw .system("if_nametoindex \(interface)") }
        // Protocol 0: this socket only sends.
        socket = Glibc.socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw .system("socket(AF_PACKET)") }
        // struct sockaddr_ll (<linux/if_packet.h>), which Swift's Glibc module leaves out:
        // family u16, protocol be16, ifindex i32, hatype u16, pkttype u8, halen u8, addr[8].
        address = [UInt8](repeating: 0, count: 20)
        address[0] = UInt8(AF_PACKET & 0xFF)
        address[1] = UInt8(AF_PACKET >> 8)
        address[2] = 0x08  // ETH_P_IP, big-endian
        withUnsafeBytes(of: Int32(index)) { for (offset, byte) in $0.enumerated() { address[4 + offset] = byte } }
        address[11] = 6
        for (offset, byte) in TapTraffic.deviceMAC.enumerated() { address[12 + offset] = byte }
    }

    deinit { close(socket) }

    /// Sends `frame` (an Ethernet frame, no virtio header) out of the tap.
    func send(_ frame: [UInt8]) throws(DevbenchError) {
        let sent = frame.withUnsafeBytes { bytes in
            address.withUnsafeBytes { name in
                sendto(socket, bytes.baseAddress, bytes.count, 0,
                       name.baseAddress?.assumingMemoryBound(to: sockaddr.self), socklen_t(name.count))
            }
        }
        guard sent == frame.count else { throw .system("sendto(AF_PACKET)") }
    }
}
