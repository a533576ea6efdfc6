/// The numbers of virtio-vsock (virtio 1.2 section 5.10) that Swiftlet uses: stream
/// sockets only, so no feature bit is offered (5.10.3: without VIRTIO_VSOCK_F_STREAM or
/// F_SEQPACKET negotiated, the device speaks streams).
public enum VsockProtocol {
    public static let deviceID: UInt16 = 19
    public static let receiveQueue = 0
    public static let transmitQueue = 1
    public static let eventQueue = 2

    /// The host's address (5.10.4): every packet the guest sends goes here.
    public static let hostCID: UInt64 = 2
    /// 0 and 1 are reserved and 2 is the host, so a guest's CID starts at 3 (5.10.4).
    public static let lowestGuestCID: UInt64 = 3
    /// Bits 63:32 of a CID are reserved (5.10.4); Linux takes a CID as 32 bits.
    public static let highestGuestCID: UInt64 = 0xFFFF_FFFE

    /// The device configuration (5.10.4): le64 guest_cid, read-only.
    public static let configSize = 8

    /// struct virtio_vsock_hdr (5.10.6): 44 packed little-endian bytes.
    public static let headerSize = 44
    /// type (5.10.6): stream sockets; SEQPACKET (2) is not offered.
    public static let typeStream: UInt16 = 1

    /// op (5.10.6).
    public enum Op: UInt16, Sendable {
        case request = 1
        case response = 2
        case reset = 3
        case shutdown = 4
        case readWrite = 5
        case creditUpdate = 6
        case creditRequest = 7
    }

    /// SHUTDOWN flags (5.10.6.5): the sender will receive no more, send no more.
    public static let shutdownReceive: UInt32 = 1
    public static let shutdownSend: UInt32 = 2
    public static let shutdownBoth: UInt32 = 3

    /// struct virtio_vsock_event (5.10.6.7): le32 id; 0 is TRANSPORT_RESET.
    public static let eventTransportReset: UInt32 = 0
    public static let eventSize = 4

    /// The largest payload one RW packet carries: Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE,
    /// and what we accept from a guest (a longer len is a malformed header).
    public static let maxPayload = 64 * 1024
}

/// One packet header (virtio 1.2 section 5.10.6), fields as on the wire.
public struct VsockHeader: Equatable, Sendable {
    public var sourceCID: UInt64
    public var destinationCID: UInt64
    public var sourcePort: UInt32
    public var destinationPort: UInt32
    public var length: UInt32
    public var type: UInt16
    public var op: UInt16
    public var flags: UInt32
    public var bufferAllocation: UInt32
    public var forwardCount: UInt32

    public init(
        sourceCID: UInt64, destinationCID: UInt64, sourcePort: UInt32, destinationPort: UInt32,
        length: UInt32 = 0, type: UInt16 = VsockProtocol.typeStream, op: UInt16, flags: UInt32 = 0,
        bufferAllocation: UInt32 = 0, forwardCount: UInt32 = 0
    ) {
        self.sourceCID = sourceCID
        self.destinationCID = destinationCID
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.length = length
        self.type = type
        self.op = op
        self.flags = flags
        self.bufferAllocation = bufferAllocation
        self.forwardCount = forwardCount
    }

    /// Decodes 44 bytes; nil for fewer.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= VsockProtocol.headerSize else { return nil }
        func field(_ offset: Int, _ width: Int) -> UInt64 {
            var value: UInt64 = 0
            for i in 0..<width { value |= UInt64(bytes[offset + i]) << (8 * i) }
            return value
        }
        self.init(
            sourceCID: field(0, 8), destinationCID: field(8, 8),
            sourcePort: UInt32(truncatingIfNeeded: field(16, 4)), destinationPort: UInt32(truncatingIfNeeded: field(20, 4)),
            length: UInt32(truncatingIfNeeded: field(24, 4)), type: UInt16(truncatingIfNeeded: field(28, 2)),
            op: UInt16(truncatingIfNeeded: field(30, 2)), flags: UInt32(truncatingIfNeeded: field(32, 4)),
            bufferAllocation: UInt32(truncatingIfNeeded: field(36, 4)),
            forwardCount: UInt32(truncatingIfNeeded: field(40, 4)))
    }

    /// The 44 bytes on the wire.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(VsockProtocol.headerSize)
        func put(_ value: UInt64, _ width: Int) {
            for i in 0..<width { out.append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
        }
        put(sourceCID, 8)
        put(destinationCID, 8)
        put(UInt64(sourcePort), 4)
        put(UInt64(destinationPort), 4)
        put(UInt64(length), 4)
        put(UInt64(type), 2)
        put(UInt64(op), 2)
        put(UInt64(flags), 4)
        put(UInt64(bufferAllocation), 4)
        put(UInt64(forwardCount), 4)
        return out
    }
}
