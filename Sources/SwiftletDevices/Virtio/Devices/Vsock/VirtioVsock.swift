/// A virtio socket device (virtio 1.2 section 5.10) whose host side is a `VsockBackend`:
/// queue 0 carries packets to the guest, queue 1 from it, queue 2 events. Stream sockets
/// only; the guest talks to the host (CID 2) and nobody else.
///
/// Nothing a guest sends is trusted: each header field is checked (VirtioVsock+Transmit),
/// a packet that fits no connection is answered with RST — never an RST for an RST — and
/// a guest that sends more than its credit loses the connection. Memory per connection is
/// bounded both ways: bytes for the host wait here only up to the credit we gave the guest
/// (`bufferAllocation`), and bytes for the guest are read from the host stream only when
/// the guest has credit and buffers, so a side that stops reading stalls its own
/// connection and nothing else.
///
/// Threading: one call at a time (TransportedDevice's lock), from vCPU threads and the
/// event loop; `@unchecked Sendable` only so it can be handed to them.
public final class VirtioVsock: VirtioDeviceCore, @unchecked Sendable {
    public static let queueSize: UInt16 = 256
    /// How long a host-initiated REQUEST waits for the guest's RESPONSE, and a closing
    /// connection for the guest's RST or the host's last read (milliseconds).
    /// Firecracker waits 2 s; a guest kernel on an emulating KVM (PVM) or a loaded host
    /// was seen answering later than that, and a late RESPONSE then met no connection.
    public static let defaultConnectTimeout: UInt64 = 5_000
    public static let defaultCloseTimeout: UInt64 = 10_000
    /// Control packets waiting for receive buffers at most; past it a guest that floods
    /// us without giving buffers loses its answers (and the connections they were for).
    static let controlLimit = 4096

    public let guestCID: UInt64
    /// Our buf_alloc: the most guest bytes a connection holds for a slow host program.
    public let bufferAllocation: UInt32
    public let maxConnections: Int
    let backend: any VsockBackend
    let clock: @Sendable () -> UInt64
    let connectTimeout: UInt64
    let closeTimeout: UInt64

    var receiveQueue: Virtqueue?
    var transmitQueue: Virtqueue?
    var eventQueue: Virtqueue?

    var connections: [VsockConnectionKey: VsockConnection] = [:]
    var streams: [VsockStreamID: VsockConnectionKey] = [:]
    /// Packets without payload for the guest, oldest first; their credit fields are
    /// filled when they go out.
    var control: [(key: VsockConnectionKey, op: VsockProtocol.Op, flags: UInt32)] = []
    var controlHead = 0
    /// Connections whose host stream has bytes for the guest, in turn order.
    var readable: [VsockConnectionKey] = []
    /// A receive chain popped for data that the host then did not have.
    var heldChain: DescriptorChain?
    /// A TRANSPORT_RESET waiting for an event buffer.
    var eventPending = false
    var nextHostPort: UInt32 = 1 << 30
    var lastDeadline: UInt64?

    // MARK: What --verbose and tests see

    /// Told of connections opening and closing and why, for --verbose; nil to stay quiet
    /// (then no message is even built: `trace?(...)` skips its argument).
    public var trace: (@Sendable (String) -> Void)?
    /// Whether the driver has read guest_cid since the device was started.
    var cidRead = false

    /// Guest packets dropped without an answer (too short, from another CID, an RST).
    public internal(set) var droppedPackets = 0
    /// RSTs queued for the guest.
    public internal(set) var resetsSent = 0

    /// `guestCID` must be 3 or more and fit in 32 bits (5.10.4), else nil.
    public init?(
        guestCID: UInt64, backend: any VsockBackend, bufferAllocation: UInt32 = 256 * 1024,
        maxConnections: Int = 256, connectTimeout: UInt64 = defaultConnectTimeout,
        closeTimeout: UInt64 = defaultCloseTimeout, clock: (@Sendable () -> UInt64)? = nil
    ) {
        guard Self.isValid(guestCID: guestCID), bufferAllocation > 0, maxConnections > 0 else { return nil }
        self.guestCID = guestCID
        self.backend = backend
        self.bufferAllocation = bufferAllocation
        self.maxConnections = maxConnections
        self.connectTimeout = connectTimeout
        self.closeTimeout = closeTimeout
        self.clock = clock ?? Self.monotonicMilliseconds()
    }

    public static func isValid(guestCID: UInt64) -> Bool {
        guestCID >= VsockProtocol.lowestGuestCID && guestCID <= VsockProtocol.highestGuestCID
    }

    static func monotonicMilliseconds() -> @Sendable () -> UInt64 {
        let start = ContinuousClock.now
        return {
            let elapsed = start.duration(to: .now).components
            return UInt64(max(0, elapsed.seconds)) * 1000 + UInt64(max(0, elapsed.attoseconds) / 1_000_000_000_000_000)
        }
    }

    /// The device's clock (milliseconds), for a backend arming its timer.
    public func now() -> UInt64 { clock() }

    // MARK: VirtioDeviceCore

    public var deviceID: UInt16 { VsockProtocol.deviceID }
    public var queueMaxSizes: [UInt16] { [Self.queueSize, Self.queueSize, Self.queueSize] }
    public var deviceFeatures: UInt64 { 0 }

    public func configRead(offset: Int, size: Int) -> UInt64 {
        if !cidRead && offset < VsockProtocol.configSize {
            cidRead = true
            trace?("driver read guest_cid \(guestCID)")
        }
        var config = VirtioConfigSpace(size: VsockProtocol.configSize)
        config.set(guestCID, at: 0)
        return config.read(offset: offset, size: size)
    }

    /// guest_cid is read-only.
    public func configWrite(offset: Int, size: Int, value: UInt64) {}

    public func activate(features: UInt64, queues: [Virtqueue]) throws(VirtioDeviceError) {
        guard queues.count == 3 else { throw .queueCount(device: "vsock", expected: 3, got: queues.count) }
        dropEverything()
        cidRead = false
        receiveQueue = queues[VsockProtocol.receiveQueue]
        transmitQueue = queues[VsockProtocol.transmitQueue]
        eventQueue = queues[VsockProtocol.eventQueue]
    }

    /// A device reset drops every connection and closes their host ends; the backend's
    /// listeners stay (they belong to the machine, not to this driver).
    public func reset() {
        dropEverything()
        receiveQueue = nil
        transmitQueue = nil
        eventQueue = nil
    }

    public func process(queue index: Int) throws(VirtqueueError) -> Bool {
        switch index {
        case VsockProtocol.receiveQueue: return try deliver()
        case VsockProtocol.transmitQueue: return try transmit()
        case VsockProtocol.eventQueue: return try deliverEvent()
        default: return false
        }
    }

    var isActive: Bool { receiveQueue != nil }

    // MARK: Connection bookkeeping

    func add(_ connection: VsockConnection) {
        connections[connection.key] = connection
        streams[connection.stream] = connection.key
        updateWatch(connection)
    }

    /// Forgets `connection` and closes its host end.
    func remove(_ connection: VsockConnection) {
        connections[connection.key] = nil
        streams[connection.stream] = nil
        backend.close(connection.stream)
        noteDeadlines()
    }

    /// Drops `connection` and tells the guest with an RST.
    func resetConnection(_ connection: VsockConnection, _ why: String) {
        trace?("\(connection.key): RST to the guest: \(why)")
        remove(connection)
        queueReset(connection.key)
    }

    func dropEverything() {
        for connection in connections.values { backend.close(connection.stream) }
        connections = [:]
        streams = [:]
        control = []
        controlHead = 0
        readable = []
        heldChain = nil
        eventPending = false
        noteDeadlines()
    }

    /// Tells the backend what to watch for `connection`: reading while the host may send
    /// and we have not been told it is readable (once told, we read it ourselves as credit
    /// and buffers allow); writing while bytes wait for it.
    func updateWatch(_ connection: VsockConnection) {
        let read = connection.readsHost && !connection.hostReadable
        let write = !connection.hostBound.isEmpty
        guard read != connection.watchingRead || write != connection.watchingWrite else { return }
        connection.watchingRead = read
        connection.watchingWrite = write
        backend.watch(connection.stream, readable: read, writable: write)
    }

    /// Tells the backend when the next deadline is, if it moved.
    func noteDeadlines() {
        let earliest = connections.values.compactMap(\.deadline).min()
        guard earliest != lastDeadline else { return }
        lastDeadline = earliest
        backend.deadlineChanged(earliest)
    }

    /// A host port no connection uses, from [2^30, 2^31) as Firecracker's are.
    func allocateHostPort() -> UInt32? {
        let used = Set(connections.keys.map(\.hostPort))
        for _ in 0...connections.count {
            let port = nextHostPort
            nextHostPort = nextHostPort == UInt32.max >> 1 ? 1 << 30 : nextHostPort + 1
            if !used.contains(port) { return port }
        }
        return nil
    }
}
