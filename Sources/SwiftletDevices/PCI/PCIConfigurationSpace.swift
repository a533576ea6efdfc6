/// The 4 KiB configuration space of one PCI function with a type 0 header
/// (PCI Local Bus 3.0 section 6.1; PCI Express 4.0 section 7.2 for the extended 4 KiB).
///
/// Every byte has a write mask and a write-one-to-clear mask, so whatever the guest
/// writes, read-only fields stay put and a register can only take values it could take
/// in hardware. BARs are masks too: the low address bits of a BAR of size S are read-only
/// zero, which is exactly the size-probing protocol (write all ones, read back ~(S-1)).
///
/// A value type: a device keeps it under its own lock. `write` reports what changed that
/// the bus must act on (a BAR moved, memory decoding turned on or off).
public struct PCIConfigurationSpace: Sendable {
    public static let size = 0x1000

    // Type 0 header offsets.
    public static let vendorIDOffset = 0x00
    public static let deviceIDOffset = 0x02
    public static let commandOffset = 0x04
    public static let statusOffset = 0x06
    public static let revisionOffset = 0x08
    public static let classCodeOffset = 0x09
    public static let cacheLineSizeOffset = 0x0C
    public static let headerTypeOffset = 0x0E
    public static let barOffset = 0x10
    public static let subsystemVendorIDOffset = 0x2C
    public static let subsystemIDOffset = 0x2E
    public static let capabilitiesPointerOffset = 0x34
    public static let interruptLineOffset = 0x3C
    public static let interruptPinOffset = 0x3D

    /// Command register bits (PCI 3.0 section 6.2.2).
    public static let commandMemorySpace: UInt16 = 1 << 1
    public static let commandBusMaster: UInt16 = 1 << 2
    /// Parity error response, SERR# enable and INTx disable are plain storage for us.
    static let commandWritable: UInt16 = commandMemorySpace | commandBusMaster | 1 << 6 | 1 << 8 | 1 << 10
    /// Status bit 4: a capability list exists.
    public static let statusCapabilityList: UInt16 = 1 << 4
    /// Status error bits are write-one-to-clear (8 and 11...15).
    static let statusWriteOneToClear: UInt16 = 0xF900

    /// What a write changed that the owner of the address space must act on.
    public struct Changes: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// A BAR's address (either half of a 64-bit one) now differs.
        public static let barAddress = Changes(rawValue: 1)
        /// The command register's memory-space bit toggled.
        public static let memorySpace = Changes(rawValue: 2)
        /// The command register's bus-master bit toggled.
        public static let busMaster = Changes(rawValue: 4)
    }

    private var bytes: [UInt8]
    private var writable: [UInt8]
    private var writeOneToClear: [UInt8]
    /// `bytes` as built, before any guest write: what a function reset restores.
    private var powerOnBytes: [UInt8]
    public private(set) var bars: [PCIBAR] = []
    private var lastCapability: Int?
    private var nextCapability = 0x40

    /// A type 0 header with the identity fields set and everything else zero.
    /// `classCode` is the 24-bit class/subclass/programming interface (0x060000 = host bridge).
    public init(
        vendorID: UInt16, deviceID: UInt16, classCode: UInt32, revision: UInt8 = 0,
        subsystemVendorID: UInt16 = 0, subsystemID: UInt16 = 0, interruptPin: UInt8 = 0
    ) {
        bytes = Array(repeating: 0, count: Self.size)
        writable = Array(repeating: 0, count: Self.size)
        writeOneToClear = Array(repeating: 0, count: Self.size)
        powerOnBytes = []
        store(vendorID, at: Self.vendorIDOffset)
        store(deviceID, at: Self.deviceIDOffset)
        bytes[Self.revisionOffset] = revision
        bytes[Self.classCodeOffset] = UInt8(truncatingIfNeeded: classCode)
        bytes[Self.classCodeOffset + 1] = UInt8(truncatingIfNeeded: classCode >> 8)
        bytes[Self.classCodeOffset + 2] = UInt8(truncatingIfNeeded: classCode >> 16)
        store(subsystemVendorID, at: Self.subsystemVendorIDOffset)
        store(subsystemID, at: Self.subsystemIDOffset)
        bytes[Self.interruptPinOffset] = interruptPin
        Self.setMask(&writable, UInt64(Self.commandWritable), at: Self.commandOffset, count: 2)
        Self.setMask(&writeOneToClear, UInt64(Self.statusWriteOneToClear), at: Self.statusOffset, count: 2)
        writable[Self.cacheLineSizeOffset] = 0xFF
        writable[Self.interruptLineOffset] = 0xFF
        powerOnBytes = bytes
    }

    // MARK: Building

    /// Declares a memory BAR. Its address starts at 0 (unassigned).
    public mutating func addBAR(_ bar: PCIBAR) throws(PCIConfigurationError) {
        let last = bar.index + (bar.kind == .memory64 ? 1 : 0)
        guard bar.index >= 0, last <= 5 else { throw .barIndexInvalid(bar.index) }
        let maxSize: UInt64 = bar.kind == .memory64 ? 1 << 63 : 1 << 31
        guard bar.size >= 16, bar.size <= maxSize, bar.size & (bar.size - 1) == 0 else {
            throw .barSizeInvalid(index: bar.index, size: bar.size)
        }
        for other in bars {
            let otherLast = other.index + (other.kind == .memory64 ? 1 : 0)
            if bar.index <= otherLast && other.index <= last { throw .barInUse(bar.index) }
        }
        // The address bits below the size are read-only zero; bits 3:0 are the type.
        let mask = ~(bar.size - 1) & ~0xF
        Self.setMask(&writable, mask, at: bar.registerOffset, count: bar.registerBytes)
        storeDword(bar.typeBits, at: bar.registerOffset)
        bars.append(bar)
        bars.sort { $0.index < $1.index }
        powerOnBytes = bytes
    }

    /// Appends a capability (PCI 3.0 section 6.7): `id`, the next pointer, then `body`.
    /// `writableMask` gives per-byte write masks for the body (missing bytes read-only).
    /// Returns the capability's offset (where its id byte is).
    @discardableResult
    public mutating func appendCapability(
        id: UInt8, body: [UInt8], writableMask: [UInt8] = []
    ) throws(PCIConfigurationError) -> Int {
        let offset = nextCapability
        let length = 2 + body.count
        // Capabilities in the first 256 bytes: conventional config space, reachable by
        // 0xCF8 too. Pointers are dword aligned and 0 ends the list.
        guard offset + length <= 0x100 else { throw .noRoomForCapability(id: id, length: length) }
        bytes[offset] = id
        bytes[offset + 1] = 0
        for (i, byte) in body.enumerated() { bytes[offset + 2 + i] = byte }
        for (i, mask) in writableMask.prefix(body.count).enumerated() { writable[offset + 2 + i] = mask }
        if let lastCapability {
            bytes[lastCapability + 1] = UInt8(offset)
        } else {
            bytes[Self.capabilitiesPointerOffset] = UInt8(offset)
            store(load(Self.statusOffset, count: 2) | UInt64(Self.statusCapabilityList), at: Self.statusOffset, count: 2)
        }
        lastCapability = offset
        nextCapability = (offset + length + 3) & ~3
        powerOnBytes = bytes
        return offset
    }

    // MARK: Guest access

    /// A read of 1, 2 or 4 bytes; anything else, or past the end, reads all ones.
    public func read(offset: Int, size: Int) -> UInt32 {
        guard Self.isValid(offset: offset, size: size) else { return Self.allOnes(size: size) }
        return UInt32(truncatingIfNeeded: load(offset, count: size))
    }

    /// A guest write through the masks; invalid accesses are dropped.
    @discardableResult
    public mutating func write(offset: Int, size: Int, value: UInt32) -> Changes {
        guard Self.isValid(offset: offset, size: size) else { return [] }
        let oldCommand = command
        let oldAddresses = bars.map { barAddress($0.index) }
        for lane in 0..<size {
            let i = offset + lane
            let byte = UInt8(truncatingIfNeeded: value >> UInt32(8 * lane))
            var new = (bytes[i] & ~writable[i]) | (byte & writable[i])
            new &= ~(byte & writeOneToClear[i])
            bytes[i] = new
        }
        var changes: Changes = []
        let flipped = oldCommand ^ command
        if flipped & Self.commandMemorySpace != 0 { changes.insert(.memorySpace) }
        if flipped & Self.commandBusMaster != 0 { changes.insert(.busMaster) }
        if bars.map({ barAddress($0.index) }) != oldAddresses { changes.insert(.barAddress) }
        return changes
    }

    // MARK: Snapshot

    /// The whole space, as a snapshot keeps it.
    public var snapshotBytes: [UInt8] { bytes }

    /// Takes back a snapshot's bytes through the writable masks only: what the guest could
    /// have written (BAR addresses, command, capability controls) comes back; IDs and
    /// capability layout stay as this device was built, so a state file cannot forge them.
    public mutating func restore(snapshotBytes saved: [UInt8]) throws(PCIConfigurationError) {
        guard saved.count == bytes.count else {
            throw .stateMismatch("configuration space of \(saved.count) bytes, expected \(bytes.count)")
        }
        for i in bytes.indices { bytes[i] = (bytes[i] & ~writable[i]) | (saved[i] & writable[i]) }
    }

    /// Back to the values as built: BARs unassigned, command zero, capabilities reset.
    public mutating func reset() {
        bytes = powerOnBytes
    }

    static func isValid(offset: Int, size: Int) -> Bool {
        (size == 1 || size == 2 || size == 4) && offset >= 0 && offset <= Self.size - size
    }

    static func allOnes(size: Int) -> UInt32 {
        size >= 4 ? UInt32.max : (UInt32(1) << UInt32(max(size, 0) * 8)) &- 1
    }

    // MARK: Decoded registers

    public var command: UInt16 { UInt16(truncatingIfNeeded: load(Self.commandOffset, count: 2)) }
    public var status: UInt16 { UInt16(truncatingIfNeeded: load(Self.statusOffset, count: 2)) }
    public var memorySpaceEnabled: Bool { command & Self.commandMemorySpace != 0 }
    public var busMasterEnabled: Bool { command & Self.commandBusMaster != 0 }

    /// The declared BAR at `index`, if any.
    public func bar(_ index: Int) -> PCIBAR? { bars.first { $0.index == index } }

    /// The address BAR `index` holds now (the guest may be mid-probe: then it is a mask),
    /// or nil if no BAR is declared there.
    public func barAddress(_ index: Int) -> UInt64? {
        guard let bar = bar(index) else { return nil }
        return load(bar.registerOffset, count: bar.registerBytes) & ~0xF
    }

    // MARK: Bytes

    private func load(_ offset: Int, count: Int) -> UInt64 {
        var value: UInt64 = 0
        for lane in 0..<count { value |= UInt64(bytes[offset + lane]) << UInt64(8 * lane) }
        return value
    }

    private mutating func store(_ value: UInt64, at offset: Int, count: Int) {
        for lane in 0..<count { bytes[offset + lane] = UInt8(truncatingIfNeeded: value >> UInt64(8 * lane)) }
    }

    private mutating func store(_ value: UInt16, at offset: Int) { store(UInt64(value), at: offset, count: 2) }
    private mutating func storeDword(_ value: UInt32, at offset: Int) { store(UInt64(value), at: offset, count: 4) }

    private static func setMask(_ masks: inout [UInt8], _ value: UInt64, at offset: Int, count: Int) {
        for lane in 0..<count { masks[offset + lane] = UInt8(truncatingIfNeeded: value >> UInt64(8 * lane)) }
    }
}
