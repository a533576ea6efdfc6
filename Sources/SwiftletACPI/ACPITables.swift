/// The whole ACPI table set as one contiguous blob for guest memory (ACPI 6.5 §5.2):
/// RSDP first (so the blob's base is the RSDP address), then XSDT, FADT, MADT, any
/// extra tables, and the DSDT, each 16-byte aligned.
///
/// Later devices join by value: a PCI root adds an `AML.device` to `dsdtDevices` and an
/// `MCFG` to `extraTables`; nothing here changes.
public struct ACPITables: Sendable {
    /// xAPIC IDs 0...254; 0xFF is the broadcast ID.
    public static let maximumCPUs = 255
    /// Where the machine puts the blob: the BIOS area, which e820 reserves.
    public static let defaultBase: UInt64 = 0xE0000
    /// The room from `defaultBase` to the 1 MiB line (0xE0000..0xFFFFF).
    public static let defaultLimit = 0x20000
    static let alignment = 16

    public var cpuCount: Int
    public var dsdtDevices: [AML]
    public var extraTables: [ACPITable]
    public var fadt: FADT

    public init(cpuCount: Int, dsdtDevices: [AML] = AMLDevices.legacyPC, extraTables: [ACPITable] = [], fadt: FADT = FADT()) {
        self.cpuCount = cpuCount
        self.dsdtDevices = dsdtDevices
        self.extraTables = extraTables
        self.fadt = fadt
    }

    /// The blob to copy to guest-physical `base`, whose first byte is the RSDP. Fails when
    /// the vCPU count has no xAPIC encoding or the blob exceeds `limit` bytes.
    public func build(at base: UInt64 = ACPITables.defaultBase, limit: Int = ACPITables.defaultLimit) throws(ACPIError) -> [UInt8] {
        guard (1...ACPITables.maximumCPUs).contains(cpuCount) else { throw .cpuCount(cpuCount) }

        let dsdt = DSDT.table(devices: dsdtDevices)
        let madt = MADT(cpuCount: cpuCount).table()
        // The XSDT lists everything but the DSDT, which only the FADT points to (§5.2.8).
        let listedCount = 2 + extraTables.count
        let xsdtLength = ACPITable.headerSize + 8 * listedCount

        // Offsets first: pointers depend only on lengths, which do not depend on pointers.
        var next = RSDP.size
        func place(_ length: Int) -> Int {
            let offset = (next + ACPITables.alignment - 1) / ACPITables.alignment * ACPITables.alignment
            next = offset + length
            return offset
        }
        let xsdtOffset = place(xsdtLength)
        let fadtOffset = place(FADT.length)
        let madtOffset = place(madt.length)
        let extraOffsets = extraTables.map { place($0.length) }
        let dsdtOffset = place(dsdt.length)
        guard next <= limit else { throw .tooLarge(size: next, limit: limit) }

        let fadtTable = fadt.table(dsdtAddress: base + UInt64(dsdtOffset))
        var xsdt = ACPITable(signature: "XSDT", revision: 1, body: [])
        for offset in [fadtOffset, madtOffset] + extraOffsets {
            xsdt.body.append(le: base + UInt64(offset))
        }

        var blob = [UInt8](repeating: 0, count: next)
        func copy(_ bytes: [UInt8], to offset: Int) {
            blob.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        }
        copy(RSDP.encode(xsdtAddress: base + UInt64(xsdtOffset)), to: 0)
        copy(xsdt.encoded(), to: xsdtOffset)
        copy(fadtTable.encoded(), to: fadtOffset)
        copy(madt.encoded(), to: madtOffset)
        for (table, offset) in zip(extraTables, extraOffsets) {
            copy(table.encoded(), to: offset)
        }
        copy(dsdt.encoded(), to: dsdtOffset)
        return blob
    }
}
