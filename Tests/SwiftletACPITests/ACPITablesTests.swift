import Testing
@testable import SwiftletACPI

@Suite struct ACPITablesTests {
    static let base: UInt64 = 0xE0000

    /// The table at guest address `address`, cut out of `blob` by its header length.
    func table(at address: UInt64, in blob: [UInt8]) throws -> [UInt8] {
        let offset = Int(address - Self.base)
        try #require(address >= Self.base && offset + 36 <= blob.count)
        let length = Int(blob.le(offset + 4, 4))
        try #require(length >= 36 && offset + length <= blob.count)
        return Array(blob[offset..<(offset + length)])
    }

    /// Every table reachable from the RSDP, keyed by signature.
    func tables(_ blob: [UInt8]) throws -> [String: [UInt8]] {
        let xsdt = try table(at: blob.le(24, 8), in: blob)
        var result = ["XSDT": xsdt]
        for entry in stride(from: 36, to: xsdt.count, by: 8) {
            let t = try table(at: xsdt.le(entry, 8), in: blob)
            result[t.ascii(0, 4)] = t
        }
        let fadt = try #require(result["FACP"])
        result["DSDT"] = try table(at: fadt.le(FADT.xDSDTOffset, 8), in: blob)
        return result
    }

    @Test func rsdpPointsAtTheXSDT() throws {
        let blob = try ACPITables(cpuCount: 2).build(at: Self.base)
        #expect(blob.ascii(0, 8) == "RSD PTR ")
        #expect(blob[15] == 2)
        #expect(blob.ascii(9, 6) == "SWIFTL")
        #expect(blob.le(16, 4) == 0)
        #expect(blob.le(20, 4) == 36)
        #expect(ACPIChecksum.sum(blob[0..<20]) == 0)
        #expect(ACPIChecksum.sum(blob[0..<36]) == 0)
        let xsdt = blob.le(24, 8)
        #expect(xsdt > Self.base && xsdt < Self.base + UInt64(blob.count))
        #expect(xsdt % 8 == 0)
        #expect(blob.ascii(Int(xsdt - Self.base), 4) == "XSDT")
    }

    @Test func everyTableHasItsLengthAndChecksum() throws {
        let mcfg = MCFG(allocations: [.init(baseAddress: 0xB000_0000, endBus: 0)]).table()
        let blob = try ACPITables(cpuCount: 4, extraTables: [mcfg]).build(at: Self.base)
        let all = try tables(blob)
        #expect(Set(all.keys) == ["XSDT", "FACP", "APIC", "MCFG", "DSDT"])
        for (signature, bytes) in all {
            #expect(ACPIChecksum.sum(bytes) == 0, "checksum of \(signature)")
            #expect(bytes.ascii(10, 6) == "SWIFTL")
            #expect(bytes.ascii(16, 8) == "SWIFTLET")
            #expect(bytes.ascii(28, 4) == "SWFT")
        }
        #expect(all["FACP"]?.count == 276)
        #expect(all["XSDT"]?.count == 36 + 3 * 8)
        #expect(all["MCFG"]?.count == 36 + 8 + 16)
        #expect(all["MCFG"].map { $0.le(44, 8) } == 0xB000_0000)
    }

    @Test func fadtDescribesAHardwareReducedPC() throws {
        let blob = try ACPITables(cpuCount: 1).build(at: Self.base)
        let fadt = try #require(try tables(blob)["FACP"])
        #expect(fadt[8] == 6)
        let flags = fadt.le(112, 4)
        #expect(flags & (1 << 20) != 0)  // HW_REDUCED_ACPI
        #expect(flags & (1 << 10) != 0)  // RESET_REG_SUP
        #expect(fadt.le(109, 2) & 0x2 != 0)  // 8042
        #expect(fadt[108] == 0x32)  // century
        // RESET_REG: system I/O, 8 bits, offset 0, byte access, port 0x604; value 1.
        #expect(Array(fadt[116..<128]) == [1, 8, 0, 1, 0x04, 0x06, 0, 0, 0, 0, 0, 0])
        #expect(fadt[128] == 1)
        #expect(Array(fadt[244..<256]) == [1, 8, 0, 1, 0x00, 0x06, 0, 0, 0, 0, 0, 0])
        #expect(Array(fadt[256..<268]) == [1, 8, 0, 1, 0x01, 0x06, 0, 0, 0, 0, 0, 0])
        #expect(fadt.ascii(268, 8) == "SWIFTLET")
        #expect(fadt.le(40, 4) == 0)  // only X_DSDT is used
        let dsdt = fadt.le(140, 8)
        #expect(blob.ascii(Int(dsdt - Self.base), 4) == "DSDT")
    }

    @Test(arguments: [1, 2, 7, 255])
    func madtHasALocalAPICPerCPU(cpus: Int) throws {
        let blob = try ACPITables(cpuCount: cpus).build(at: Self.base)
        let madt = try #require(try tables(blob)["APIC"])
        #expect(madt.le(36, 4) == 0xFEE0_0000)
        #expect(madt.le(40, 4) == 1)
        var entries: [(type: UInt8, bytes: [UInt8])] = []
        var offset = 44
        while offset < madt.count {
            let length = Int(madt[offset + 1])
            try #require(length >= 2 && offset + length <= madt.count)
            entries.append((madt[offset], Array(madt[offset..<(offset + length)])))
            offset += length
        }
        #expect(offset == madt.count)
        #expect(entries.count == cpus + 3)
        let lapics = entries.filter { $0.type == 0 }
        #expect(lapics.count == cpus)
        for (index, entry) in lapics.enumerated() {
            #expect(entry.bytes == [0, 8, UInt8(index), UInt8(index), 1, 0, 0, 0])
        }
        #expect(entries.filter { $0.type == 1 }.map(\.bytes) == [[1, 12, 0, 0, 0, 0, 0xC0, 0xFE, 0, 0, 0, 0]])
        #expect(entries.filter { $0.type == 2 }.map(\.bytes) == [[2, 10, 0, 0, 2, 0, 0, 0, 0, 0]])
        #expect(entries.filter { $0.type == 4 }.map(\.bytes) == [[4, 6, 0xFF, 0, 0, 1]])
    }

    @Test func dsdtHoldsS5AndTheLegacyDevices() throws {
        let blob = try ACPITables(cpuCount: 1).build(at: Self.base)
        let dsdt = try #require(try tables(blob)["DSDT"])
        #expect(dsdt[8] == 2)
        // Name(_S5_, Package(){5, 5, 0, 0}) exactly as iasl encodes it.
        #expect(dsdt.contains(subsequence: [0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00]))
        // _HID values EisaId("PNP0501"), ("PNP0303"), ("PNP0B00").
        #expect(dsdt.contains(subsequence: [0x08, 0x5F, 0x48, 0x49, 0x44, 0x0C, 0x41, 0xD0, 0x05, 0x01]))
        #expect(dsdt.contains(subsequence: [0x0C, 0x41, 0xD0, 0x03, 0x03]))
        #expect(dsdt.contains(subsequence: [0x0C, 0x41, 0xD0, 0x0B, 0x00]))
        // COM1's ports and IRQ 4.
        #expect(dsdt.contains(subsequence: [0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79]))
    }

    @Test func refusesImpossibleCPUCountsAndOverflow() {
        #expect(throws: ACPIError.cpuCount(0)) { try ACPITables(cpuCount: 0).build() }
        #expect(throws: ACPIError.cpuCount(256)) { try ACPITables(cpuCount: 256).build() }
        let huge = AML.name("BLOB", .buffer([UInt8](repeating: 0, count: 0x20000)))
        #expect(throws: ACPIError.self) { try ACPITables(cpuCount: 1, dsdtDevices: [huge]).build() }
    }

    @Test func defaultTablesFitTheBIOSArea() throws {
        let blob = try ACPITables(cpuCount: 255).build()
        #expect(blob.count <= 0x20000)
        #expect(blob.count > 36 + 36 + 276)
    }
}
