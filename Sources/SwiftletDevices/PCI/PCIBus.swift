import Synchronization

/// PCI bus 0: up to 32 single-function devices, their configuration space, and the MMIO
/// windows of their BARs.
///
/// Swiftlet plays firmware: at insertion every BAR gets a naturally aligned address in the
/// 32-bit MMIO window and the device gets memory decoding and bus mastering. The guest may
/// move BARs or turn decoding off; after every config write that changes either, the bus
/// recomputes which BARs are mapped. A BAR outside the window, over another window or
/// with decoding off is simply not mapped, as a real bridge would not forward it.
public final class PCIBus: Sendable {
    /// The 32-bit MMIO window for BARs (the DSDT's PNP0A08 _CRS).
    public static let defaultWindow: Range<UInt64> = 0xC000_0000..<0xE000_0000
    public static let slotCount = 32

    private struct Slot {
        let device: any PCIDevice
        /// The addresses assigned at insertion, restored by `reset()`.
        let assigned: [Int: UInt64]
        /// BAR index -> base currently inserted on the MMIO bus.
        var mapped: [Int: UInt64] = [:]
    }

    private struct State {
        var slots: [Int: Slot] = [:]
        var nextFree: UInt64
    }

    private let mmio: Bus
    public let window: Range<UInt64>
    private let onBARChange: @Sendable (PCIBARChange) -> Void
    private let state: Mutex<State>
    /// Serializes config writes with their window updates and `onBARChange` calls, so the
    /// machine hears changes in order. `state` alone is taken by readers.
    private let serial = Mutex<Void>(())

    /// BAR windows go on `mmio`. `onBARChange` hears every mapping change, in order, with
    /// no bus lock but the write serializer held: it may read the bus (`barAddress`) but
    /// must not write config space.
    public init(
        mmio: Bus, window: Range<UInt64> = PCIBus.defaultWindow,
        onBARChange: @escaping @Sendable (PCIBARChange) -> Void = { _ in }
    ) {
        self.mmio = mmio
        self.window = window
        self.onBARChange = onBARChange
        self.state = Mutex(State(nextFree: window.lowerBound))
    }

    // MARK: Population

    /// Puts `device` in `slot` (or the lowest free one), assigns its BARs and turns on
    /// memory decoding and bus mastering. Returns the slot.
    @discardableResult
    public func insert(_ device: any PCIDevice, slot: Int? = nil) throws(PCIBusError) -> Int {
        try serial.withLock { _ throws(PCIBusError) -> Int in
            let (chosen, assigned) = try state.withLock { s throws(PCIBusError) -> (Int, [Int: UInt64]) in
                let chosen: Int
                if let slot {
                    guard slot >= 0, slot < Self.slotCount else { throw .slotInvalid(slot) }
                    if let other = s.slots[slot] { throw .slotTaken(slot, other.device.name) }
                    chosen = slot
                } else {
                    guard let free = (0..<Self.slotCount).first(where: { s.slots[$0] == nil }) else { throw .busFull }
                    chosen = free
                }
                var next = s.nextFree
                var assigned: [Int: UInt64] = [:]
                // Largest first, so alignment wastes little.
                for bar in device.bars.sorted(by: { $0.size > $1.size }) {
                    let base = (next + bar.size - 1) & ~(bar.size - 1)
                    guard base >= next, base <= window.upperBound, bar.size <= window.upperBound - base else {
                        throw .outOfMMIOSpace(device.name, bar: bar.index, size: bar.size)
                    }
                    assigned[bar.index] = base
                    next = base + bar.size
                }
                s.nextFree = next
                s.slots[chosen] = Slot(device: device, assigned: assigned)
                return (chosen, assigned)
            }
            program(device, assigned: assigned)
            reconcile()
            return chosen
        }
    }

    /// Writes the assigned BAR addresses and enables decoding, as firmware would.
    private func program(_ device: any PCIDevice, assigned: [Int: UInt64]) {
        for bar in device.bars {
            guard let base = assigned[bar.index] else { continue }
            _ = device.configWrite(offset: bar.registerOffset, size: 4, value: UInt32(truncatingIfNeeded: base))
            if bar.kind == .memory64 {
                _ = device.configWrite(offset: bar.registerOffset + 4, size: 4, value: UInt32(truncatingIfNeeded: base >> 32))
            }
        }
        let command = UInt32(device.configuration.command)
            | UInt32(PCIConfigurationSpace.commandMemorySpace | PCIConfigurationSpace.commandBusMaster)
        _ = device.configWrite(offset: PCIConfigurationSpace.commandOffset, size: 2, value: command)
    }

    /// A platform reset: every device resets, then gets its original BARs back.
    public func reset() {
        serial.withLock { _ in
            let slots = state.withLock { $0.slots.values.map { ($0.device, $0.assigned) } }
            for (device, assigned) in slots {
                device.reset()
                program(device, assigned: assigned)
            }
            reconcile()
        }
    }

    /// After devices took back a snapshot's configuration space: map their BARs where the
    /// snapshot had them and tell `onBARChange` (which places the ioeventfds), before any
    /// vCPU runs.
    public func remapAfterRestore() {
        serial.withLock { _ in reconcile() }
    }

    // MARK: Configuration access

    /// A config read (1, 2 or 4 bytes); absent devices and functions read all ones.
    public func configRead(device: Int, function: Int, offset: Int, size: Int) -> UInt32 {
        guard function == 0, let target = self.device(at: device) else {
            return PCIConfigurationSpace.allOnes(size: size)
        }
        return target.configRead(offset: offset, size: size)
    }

    /// A config write; to an absent device it vanishes.
    public func configWrite(device: Int, function: Int, offset: Int, size: Int, value: UInt32) {
        guard function == 0, let target = self.device(at: device) else { return }
        serial.withLock { _ in
            if !target.configWrite(offset: offset, size: size, value: value).isEmpty {
                reconcile()
            }
        }
    }

    // MARK: Queries

    /// The device in `slot`, if any.
    public func device(at slot: Int) -> (any PCIDevice)? {
        state.withLock { $0.slots[slot]?.device }
    }

    /// Where BAR `bar` of the device in `slot` is mapped on the MMIO bus now, if it is.
    public func barAddress(slot: Int, bar: Int) -> UInt64? {
        state.withLock { $0.slots[slot]?.mapped[bar] }
    }

    // MARK: Mapping

    /// Brings the MMIO bus windows in line with every device's BARs and command register,
    /// then reports the changes. Called with `serial` held.
    private func reconcile() {
        let changes = state.withLock { s -> [PCIBARChange] in
            var wanted: [Int: [Int: UInt64]] = [:]
            var sizes: [Int: [Int: UInt64]] = [:]
            for (slot, entry) in s.slots {
                let space = entry.device.configuration
                for bar in space.bars {
                    sizes[slot, default: [:]][bar.index] = bar.size
                    guard space.memorySpaceEnabled, let base = space.barAddress(bar.index),
                        base != 0, base >= window.lowerBound, base < window.upperBound,
                        bar.size <= window.upperBound - base
                    else { continue }
                    wanted[slot, default: [:]][bar.index] = base
                }
            }
            var changes: [PCIBARChange] = []
            // Remove first, so a BAR moving onto another's old place finds it free.
            for slot in s.slots.keys.sorted() {
                guard var entry = s.slots[slot] else { continue }
                for (bar, base) in entry.mapped.sorted(by: { $0.key < $1.key }) where wanted[slot]?[bar] != base {
                    mmio.remove(at: base)
                    entry.mapped[bar] = nil
                    changes.append(PCIBARChange(slot: slot, bar: bar, size: sizes[slot]?[bar] ?? 0, old: base, new: nil))
                }
                s.slots[slot] = entry
            }
            for slot in s.slots.keys.sorted() {
                guard var entry = s.slots[slot] else { continue }
                for (bar, base) in (wanted[slot] ?? [:]).sorted(by: { $0.key < $1.key }) where entry.mapped[bar] == nil {
                    let size = sizes[slot]?[bar] ?? 0
                    let name = "\(entry.device.name) BAR\(bar)"
                    do {
                        try mmio.insert(PCIBARWindow(device: entry.device, bar: bar), at: base, size: size, name: name)
                    } catch {
                        continue  // over another window: left unmapped
                    }
                    entry.mapped[bar] = base
                    // A remove and re-insert of the same BAR is one move.
                    if let index = changes.lastIndex(where: { $0.slot == slot && $0.bar == bar && $0.new == nil }) {
                        let old = changes.remove(at: index).old
                        if old != base { changes.append(PCIBARChange(slot: slot, bar: bar, size: size, old: old, new: base)) }
                    } else {
                        changes.append(PCIBARChange(slot: slot, bar: bar, size: size, old: nil, new: base))
                    }
                }
                s.slots[slot] = entry
            }
            return changes
        }
        for change in changes { onBARChange(change) }
    }
}
