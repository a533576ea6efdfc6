/// Resource data for `_CRS` (ACPI 6.5 §6.4): what ports, IRQs and windows a device decodes.
public enum ResourceDescriptor: Sendable, Equatable {
    /// `IO(Decode16, min, max, alignment, length)` (§6.4.2.5).
    case io(min: UInt16, max: UInt16, alignment: UInt8, length: UInt8)
    /// `IRQNoFlags() {irqs}` (§6.4.2.1): edge-triggered, active-high ISA IRQs 0..15.
    case irqNoFlags([UInt8])
    /// `WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, ...)` (§6.4.3.5.3).
    case wordBusNumber(min: UInt16, max: UInt16)
    /// `WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, ...)`: a port window.
    case wordIO(min: UInt16, max: UInt16)
    /// `DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable|NonCacheable, ReadWrite, ...)`.
    case dwordMemory(min: UInt32, max: UInt32, cacheable: Bool)
    /// `QWordMemory(...)`, as `dwordMemory` but above 4 GiB.
    case qwordMemory(min: UInt64, max: UInt64, cacheable: Bool)
    /// `Memory32Fixed(ReadWrite, base, length)` (§6.4.3.4): a device's register window.
    case memory32Fixed(base: UInt32, length: UInt32)
    /// `Interrupt(ResourceConsumer, Edge|Level, ActiveHigh|ActiveLow, Exclusive) {gsis}`
    /// (§6.4.3.6, the Extended Interrupt Descriptor): GSIs of any number, unlike IRQNoFlags.
    case interrupt(gsis: [UInt32], edgeTriggered: Bool, activeLow: Bool)

    /// A fixed block of `length` ports at `base`.
    public static func ioPort(_ base: UInt16, length: UInt8) -> ResourceDescriptor {
        .io(min: base, max: base, alignment: 1, length: length)
    }

    // Address space descriptor fields (§6.4.3.5, Table 6.44).
    private static let memoryType: UInt8 = 0, ioType: UInt8 = 1, busType: UInt8 = 2
    /// General flags: MinFixed (bit 2), MaxFixed (bit 3), producer (bit 0 clear), positive decode.
    private static let fixedProducer: UInt8 = 0x0C

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        switch self {
        case .io(let min, let max, let alignment, let length):
            bytes = [0x47, 0x01]  // small item 0x08, length 7; Decode16
            bytes.append(le: min)
            bytes.append(le: max)
            bytes += [alignment, length]
        case .irqNoFlags(let irqs):
            let mask = irqs.filter { $0 < 16 }.reduce(UInt16(0)) { $0 | 1 << UInt16($1) }
            bytes = [0x22]  // small item 0x04, length 2: no information byte
            bytes.append(le: mask)
        case .wordBusNumber(let min, let max):
            bytes = Self.wordAddress(type: Self.busType, typeFlags: 0, min: min, max: max)
        case .wordIO(let min, let max):
            bytes = Self.wordAddress(type: Self.ioType, typeFlags: 0x03, min: min, max: max)  // EntireRange
        case .dwordMemory(let min, let max, let cacheable):
            bytes = [0x87]
            bytes.append(le: UInt16(23))
            bytes += [Self.memoryType, Self.fixedProducer, Self.memoryFlags(cacheable)]
            for field in [0, min, max, 0, max &- min &+ 1] { bytes.append(le: field) }
        case .memory32Fixed(let base, let length):
            bytes = [0x86]
            bytes.append(le: UInt16(9))
            bytes.append(1)  // read-write
            bytes.append(le: base)
            bytes.append(le: length)
        case .interrupt(let gsis, let edgeTriggered, let activeLow):
            // Flags: consumer (bit 0), edge (bit 1), active-low (bit 2); exclusive, no wake.
            let flags: UInt8 = 1 | (edgeTriggered ? 2 : 0) | (activeLow ? 4 : 0)
            bytes = [0x89]
            bytes.append(le: UInt16(2 + 4 * gsis.count))
            bytes += [flags, UInt8(truncatingIfNeeded: gsis.count)]
            for gsi in gsis { bytes.append(le: gsi) }
        case .qwordMemory(let min, let max, let cacheable):
            bytes = [0x8A]
            bytes.append(le: UInt16(43))
            bytes += [Self.memoryType, Self.fixedProducer, Self.memoryFlags(cacheable)]
            for field in [0, min, max, 0, max &- min &+ 1] { bytes.append(le: field) }
        }
        return bytes
    }

    /// Memory type flags: read-write (bit 0), cacheable (bits 2:1 = 1) or not.
    private static func memoryFlags(_ cacheable: Bool) -> UInt8 {
        cacheable ? 0x03 : 0x01
    }

    private static func wordAddress(type: UInt8, typeFlags: UInt8, min: UInt16, max: UInt16) -> [UInt8] {
        var bytes: [UInt8] = [0x88]
        bytes.append(le: UInt16(13))
        bytes += [type, fixedProducer, typeFlags]
        for field in [0, min, max, 0, max &- min &+ 1] { bytes.append(le: field) }
        return bytes
    }
}
