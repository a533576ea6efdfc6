/// A virtio network card (virtio 1.2 section 5.1) on a packet backend (a tap): queue 0
/// receives, queue 1 transmits, and the virtio-net header passes straight between the
/// guest and the tap, so checksum and segmentation offloads cost us nothing.
///
/// Receiving never wastes work: while the guest has no receive buffers the backend is
/// told to stop reporting packets (`setReceiving(false)`), and the packet in hand is
/// kept, not dropped; the guest's next receive kick resumes it.
///
/// A broken ring fails the device until the driver resets it (virtio 1.2 section 2.1.2):
/// it stops listening to the backend and serves neither queue, so a backend that stays
/// readable (a tap full of frames, on a level-triggered loop) cannot keep calling a
/// device that would only fail again.
///
/// Threading: serves one thread (the event loop), like `Virtqueue`; `@unchecked Sendable`
/// only so it can be handed to that thread.
public final class VirtioNet: VirtioDeviceCore, @unchecked Sendable {
    public static let deviceID: UInt16 = 1
    public static let queueSize: UInt16 = 256
    /// Most packets one call moves from the backend, so other devices get their turn;
    /// a backend with more still waiting reports it again.
    public static let receiveBudget = 256

    public let mac: [UInt8]
    let backend: any VirtioNetBackend
    private let config: VirtioConfigSpace
    var receiveQueue: Virtqueue?
    var transmitQueue: Virtqueue?
    private(set) var negotiated: UInt64 = 0

    /// The packet read from the backend and not yet delivered (header first).
    var packet: UnsafeMutableRawBufferPointer
    var packetLength: Int?
    /// Receive chains popped for a packet that did not fit them all: used first next time.
    var heldChains: [DescriptorChain] = []
    /// Whether the backend was last told to report packets.
    var receiving = false
    /// A ring broke: nothing is served until `reset()`.
    private(set) var failed = false

    // MARK: What --verbose and tests see

    /// Packets the guest never got: too short to hold a header, or too big for its buffers.
    public private(set) var droppedPackets = 0
    /// Packets from the guest the backend refused or that were malformed.
    public internal(set) var droppedTransmits = 0

    /// `mac` must be 6 bytes (the caller checked it: a unicast, locally administered one).
    public init(mac: [UInt8], backend: any VirtioNetBackend) {
        self.mac = mac
        self.backend = backend
        var config = VirtioConfigSpace(size: VirtioNetProtocol.Config.size)
        for (index, byte) in mac.prefix(6).enumerated() { config.set(byte, at: VirtioNetProtocol.Config.mac + index) }
        config.set(VirtioNetProtocol.Config.linkUp, at: VirtioNetProtocol.Config.status)
        self.config = config
        packet = .allocate(byteCount: VirtioNetProtocol.maxPacketSize, alignment: 16)
    }

    deinit { packet.deallocate() }

    // MARK: VirtioDeviceCore

    public var deviceID: UInt16 { Self.deviceID }
    public var queueMaxSizes: [UInt16] { [Self.queueSize, Self.queueSize] }

    public var deviceFeatures: UInt64 {
        typealias P = VirtioNetProtocol
        return P.featureMAC | P.featureStatus | P.featureMergeableRxBuffers
            | P.featureChecksum | P.featureGuestChecksum
            | P.featureHostTSO4 | P.featureHostTSO6 | P.featureGuestTSO4 | P.featureGuestTSO6
    }

    public func configRead(offset: Int, size: Int) -> UInt64 { config.read(offset: offset, size: size) }

    /// mac is writable only with VIRTIO_NET_F_CTRL_MAC_ADDR (legacy), which we do not offer.
    public func configWrite(offset: Int, size: Int, value: UInt64) {}

    public func activate(features: UInt64, queues: [Virtqueue]) throws(VirtioDeviceError) {
        guard queues.count == 2 else { throw .queueCount(device: "net", expected: 2, got: queues.count) }
        negotiated = features & deviceFeatures
        receiveQueue = queues[VirtioNetProtocol.receiveQueue]
        transmitQueue = queues[VirtioNetProtocol.transmitQueue]
        failed = false
        backend.setOffloads(VirtioNetOffloads(negotiated: negotiated))
        // Receiving starts with the first receive kick (TransportedDevice kicks every
        // queue after activation): that is when we know whether there are buffers.
    }

    public func reset() {
        receiveQueue = nil
        transmitQueue = nil
        negotiated = 0
        heldChains = []
        packetLength = nil
        failed = false
        setReceiving(false)
    }

    public func process(queue index: Int) throws(VirtqueueError) -> Bool {
        switch index {
        case VirtioNetProtocol.receiveQueue: return try failingOnError(receivePackets)
        case VirtioNetProtocol.transmitQueue: return try failingOnError(transmitPackets)
        default: return false
        }
    }

    /// The backend has packets waiting: move them to the guest. Returns true when the
    /// driver should be interrupted on the receive queue. Throws only for a broken ring,
    /// after which the backend is no longer listened to.
    public func backendReadable() throws(VirtqueueError) -> Bool {
        try failingOnError(receivePackets)
    }

    /// Runs `work` unless the device already failed; a ring error fails it, which lets go
    /// of the backend until the driver's reset.
    private func failingOnError(_ work: () throws(VirtqueueError) -> Bool) throws(VirtqueueError) -> Bool {
        guard !failed else { return false }
        do {
            return try work()
        } catch {
            failed = true
            setReceiving(false)
            throw error
        }
    }

    var mergeableBuffers: Bool { negotiated & VirtioNetProtocol.featureMergeableRxBuffers != 0 }

    func setReceiving(_ wanted: Bool) {
        guard wanted != receiving else { return }
        receiving = wanted
        backend.setReceiving(wanted)
    }

    func countDrop() { droppedPackets += 1 }
}
