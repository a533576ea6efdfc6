import Synchronization

/// MSI-X (PCI 3.0 section 6.8.2): the capability in config space, the vector table and the
/// pending bit array (PBA) in a BAR, and the masking rules that decide whether a signal is
/// delivered now or left pending.
///
/// The device owning it forwards config writes (`configurationWritten`) and the BAR
/// ranges of the table and PBA here. Thread-safe; deliveries happen outside the lock.
public final class MSIXCapability: Sendable {
    public static let capabilityID: UInt8 = 0x11
    /// Bytes per table entry: message address lo, hi, data, vector control.
    public static let entrySize = 16
    /// Message control bits (in the capability's second word).
    public static let controlEnable: UInt16 = 1 << 15
    public static let controlFunctionMask: UInt16 = 1 << 14

    public let vectorCount: Int
    /// Where the capability's id byte sits in config space.
    public let capabilityOffset: Int
    private let delivery: any MSIDelivery

    private struct State {
        var table: [UInt8]
        var pending: [Bool]
        var enabled = false
        var functionMasked = false

        init(vectors: Int) {
            table = Array(repeating: 0, count: vectors * MSIXCapability.entrySize)
            pending = Array(repeating: false, count: vectors)
            // Every vector starts masked (PCI 3.0 section 6.8.2.9).
            for vector in 0..<vectors { table[vector * MSIXCapability.entrySize + 12] = 1 }
        }

        func entry(_ vector: Int) -> MSIXEntry {
            let base = vector * MSIXCapability.entrySize
            func dword(_ at: Int) -> UInt32 {
                (0..<4).reduce(UInt32(0)) { $0 | UInt32(table[base + at + $1]) << UInt32(8 * $1) }
            }
            let masked = !enabled || functionMasked || dword(12) & 1 != 0
            return MSIXEntry(
                address: UInt64(dword(4)) << 32 | UInt64(dword(0)), data: dword(8), masked: masked,
                pending: pending[vector])
        }
    }

    private let state: Mutex<State>

    /// Appends the capability to `configuration` for `vectors` vectors (1...2048) whose
    /// table is at `tableOffset` in BAR `tableBAR` and PBA at `pbaOffset` in `pbaBAR`
    /// (offsets 8-byte aligned).
    public init(
        vectors: Int, tableBAR: Int, tableOffset: UInt32, pbaBAR: Int, pbaOffset: UInt32,
        delivery: any MSIDelivery, installingIn configuration: inout PCIConfigurationSpace
    ) throws(PCIConfigurationError) {
        guard (1...2048).contains(vectors) else { throw .msixVectorCountInvalid(vectors) }
        let control = UInt16(vectors - 1)
        let table = tableOffset & ~7 | UInt32(tableBAR & 7)
        let pba = pbaOffset & ~7 | UInt32(pbaBAR & 7)
        var body: [UInt8] = [UInt8(truncatingIfNeeded: control), UInt8(truncatingIfNeeded: control >> 8)]
        for word in [table, pba] { body += (0..<4).map { UInt8(truncatingIfNeeded: word >> UInt32(8 * $0)) } }
        // Only enable and function mask (bits 15 and 14 of message control) are writable.
        self.capabilityOffset = try configuration.appendCapability(id: Self.capabilityID, body: body, writableMask: [0, 0xC0])
        self.vectorCount = vectors
        self.delivery = delivery
        self.state = Mutex(State(vectors: vectors))
    }

    /// Bytes of the table and of the PBA, for laying out a BAR.
    public var tableSize: Int { vectorCount * Self.entrySize }
    public var pbaSize: Int { (vectorCount + 63) / 64 * 8 }

    // MARK: State

    public var isEnabled: Bool { state.withLock { $0.enabled } }
    public var isFunctionMasked: Bool { state.withLock { $0.functionMasked } }

    /// Vector `vector`'s message and mask, or nil when out of range.
    public func entry(_ vector: Int) -> MSIXEntry? {
        guard vector >= 0, vector < vectorCount else { return nil }
        return state.withLock { $0.entry(vector) }
    }

    // MARK: Config space

    /// Call after every config-space write with the space as it is now: picks up changes
    /// to message control (enable, function mask).
    public func configurationWritten(_ configuration: PCIConfigurationSpace, offset: Int, size: Int) {
        let control = capabilityOffset + 2
        guard offset < control + 2, control < offset + size else { return }
        let value = UInt16(truncatingIfNeeded: configuration.read(offset: control, size: 2))
        update { s in
            s.enabled = value & Self.controlEnable != 0
            s.functionMasked = value & Self.controlFunctionMask != 0
        }
    }

    // MARK: BAR regions

    /// A read at `offset` in the vector table; outside it reads 0.
    public func tableRead(offset: UInt64, size: Int) -> UInt64 {
        state.withLock { s in Self.readLanes(s.table, offset: offset, size: size) }
    }

    /// A write at `offset` in the vector table; reserved bits and outside bytes are dropped.
    public func tableWrite(offset: UInt64, size: Int, value: UInt64) {
        update { s in
            for lane in 0..<min(max(size, 0), 8) {
                let (at, overflow) = offset.addingReportingOverflow(UInt64(lane))
                guard !overflow, at < UInt64(s.table.count) else { continue }
                let index = Int(at)
                var byte = UInt8(truncatingIfNeeded: value >> UInt64(8 * lane))
                switch index % Self.entrySize {
                case 0: byte &= 0xFC  // message address is dword aligned
                case 12: byte &= 1  // vector control: only the mask bit
                case 13, 14, 15: byte = 0
                default: break
                }
                s.table[index] = byte
            }
        }
    }

    /// A read of the pending bit array; writes to it are ignored (it is read-only).
    public func pbaRead(offset: UInt64, size: Int) -> UInt64 {
        state.withLock { s in
            var bytes = Array(repeating: UInt8(0), count: (s.pending.count + 63) / 64 * 8)
            for (vector, isPending) in s.pending.enumerated() where isPending {
                bytes[vector / 8] |= 1 << UInt8(vector % 8)
            }
            return Self.readLanes(bytes, offset: offset, size: size)
        }
    }

    // MARK: Signalling

    /// Raises vector `vector`: delivered now if MSI-X is enabled and neither the function
    /// nor the vector is masked, else its pending bit is set and it is delivered when
    /// unmasked. Returns false when MSI-X is disabled (the caller may fall back to INTx);
    /// an out-of-range vector is ignored.
    @discardableResult
    public func signal(vector: Int) -> Bool {
        guard vector >= 0, vector < vectorCount else { return isEnabled }
        let outcome: (enabled: Bool, deliver: MSIXEntry?) = state.withLock { s in
            guard s.enabled else { return (false, nil) }
            let entry = s.entry(vector)
            if entry.masked {
                s.pending[vector] = true
                return (true, nil)
            }
            return (true, entry)
        }
        if let entry = outcome.deliver {
            delivery.signal(vector: vector, address: entry.address, data: entry.data)
        }
        return outcome.enabled
    }

    // MARK: Snapshot

    /// The vector table and pending bits. Enable and function mask live in config space
    /// and come back with it (`configurationWritten`).
    public var snapshotState: MSIXState {
        state.withLock { MSIXState(table: $0.table, pending: $0.pending) }
    }

    /// Takes back a snapshot's table and pending bits, after config space was restored.
    /// Every vector whose message differs from the power-on one is reported to the
    /// delivery (`vectorChanged`), so the machine installs its MSI route again before any
    /// vCPU runs; pending vectors now unmasked are delivered.
    public func restore(_ saved: MSIXState, configuration: PCIConfigurationSpace) throws(PCIConfigurationError) {
        guard saved.table.count == vectorCount * Self.entrySize, saved.pending.count == vectorCount else {
            throw .stateMismatch("MSI-X state for \(saved.pending.count) vectors, the device has \(vectorCount)")
        }
        let control = UInt16(truncatingIfNeeded: configuration.read(offset: capabilityOffset + 2, size: 2))
        update { s in
            s.table = saved.table
            // Reserved bits are dropped as a guest write would drop them.
            for vector in 0..<vectorCount {
                let base = vector * Self.entrySize
                s.table[base] &= 0xFC
                s.table[base + 12] &= 1
                for i in 13...15 { s.table[base + i] = 0 }
            }
            s.pending = saved.pending
            s.enabled = control & Self.controlEnable != 0
            s.functionMasked = control & Self.controlFunctionMask != 0
        }
    }

    /// Function reset: disabled, every vector masked and cleared, nothing pending.
    public func reset() {
        update { s in s = State(vectors: vectorCount) }
    }

    /// Applies `change`, then reports vectors whose message or mask changed and delivers
    /// those that were pending and are now unmasked (PCI 3.0 section 6.8.2.9).
    private func update(_ change: (inout State) -> Void) {
        let (changed, deliver) = state.withLock { s -> ([(Int, MSIXEntry)], [(Int, MSIXEntry)]) in
            let before = (0..<vectorCount).map { s.entry($0) }
            change(&s)
            var changed: [(Int, MSIXEntry)] = []
            var deliver: [(Int, MSIXEntry)] = []
            for vector in 0..<vectorCount {
                var entry = s.entry(vector)
                if !entry.masked && entry.pending {
                    s.pending[vector] = false
                    entry.pending = false
                    deliver.append((vector, entry))
                }
                let old = before[vector]
                if old.address != entry.address || old.data != entry.data || old.masked != entry.masked {
                    changed.append((vector, entry))
                }
            }
            return (changed, deliver)
        }
        for (vector, entry) in changed {
            delivery.vectorChanged(vector: vector, address: entry.address, data: entry.data, masked: entry.masked)
        }
        for (vector, entry) in deliver {
            delivery.signal(vector: vector, address: entry.address, data: entry.data)
        }
    }

    private static func readLanes(_ bytes: [UInt8], offset: UInt64, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for lane in 0..<min(max(size, 0), 8) {
            let (at, overflow) = offset.addingReportingOverflow(UInt64(lane))
            guard !overflow, at < UInt64(bytes.count) else { continue }
            value |= UInt64(bytes[Int(at)]) << UInt64(8 * lane)
        }
        return value
    }
}

/// MSI-X's table bytes and pending bits, as a snapshot keeps them.
public struct MSIXState: Sendable, Equatable {
    public var table: [UInt8]
    public var pending: [Bool]

    public init(table: [UInt8], pending: [Bool]) {
        self.table = table
        self.pending = pending
    }
}

/// One MSI-X vector as the guest programmed it.
public struct MSIXEntry: Sendable, Equatable {
    public var address: UInt64
    public var data: UInt32
    /// Disabled, function-masked or vector-masked: nothing may be delivered.
    public var masked: Bool
    public var pending: Bool

    public init(address: UInt64, data: UInt32, masked: Bool, pending: Bool) {
        self.address = address
        self.data = data
        self.masked = masked
        self.pending = pending
    }
}
