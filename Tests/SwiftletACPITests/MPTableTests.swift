import Testing
@testable import SwiftletACPI

@Suite struct MPTableTests {
    struct Parsed {
        var processors: [(apicID: UInt8, flags: UInt8)] = []
        var buses: [String] = []
        var ioAPICs: [(id: UInt8, version: UInt8, address: UInt64)] = []
        /// (type, flags, bus irq, pin)
        var interrupts: [(type: UInt8, flags: UInt64, irq: UInt8, pin: UInt8)] = []
        var local: [(type: UInt8, lint: UInt8)] = []
    }

    /// Checks the floating pointer and the table's header against the bytes, then walks
    /// the entries by their sizes (20 for processors, 8 for the rest).
    func parse(_ blob: [UInt8], base: UInt64 = MPTable.defaultBase) throws -> Parsed {
        #expect(blob.ascii(0, 4) == "_MP_")
        #expect(ACPIChecksum.sum(blob[0..<16]) == 0)
        #expect(blob[8] == 1 && blob[9] == 4)
        #expect(blob[11] == 0 && blob[12] == 0)  // a table follows; virtual wire mode
        let tableAddress = blob.le(4, 4)
        try #require(tableAddress == base + 16)
        let table = Array(blob[16...])
        #expect(table.ascii(0, 4) == "PCMP")
        let length = Int(table.le(4, 2))
        #expect(length == table.count)
        #expect(table[6] == 4)
        #expect(ACPIChecksum.sum(table[0..<length]) == 0)
        #expect(table.le(36, 4) == 0xFEE0_0000)
        let count = Int(table.le(34, 2))
        var parsed = Parsed()
        var offset = 44
        var lastType: UInt8 = 0
        for _ in 0..<count {
            try #require(offset < length)
            let type = table[offset]
            #expect(type >= lastType)  // §4.3: entries sorted by type
            lastType = type
            switch type {
            case 0:
                parsed.processors.append((table[offset + 1], table[offset + 3]))
                #expect(table[offset + 2] == 0x14)
                offset += 20
            case 1:
                parsed.buses.append(table.ascii(offset + 2, 6))
                offset += 8
            case 2:
                parsed.ioAPICs.append((table[offset + 1], table[offset + 2], table.le(offset + 4, 4)))
                offset += 8
            case 3:
                #expect(table[offset + 4] == 0 && table[offset + 6] == MADT.ioAPICID)
                parsed.interrupts.append((table[offset + 1], table.le(offset + 2, 2), table[offset + 5], table[offset + 7]))
                offset += 8
            case 4:
                #expect(table[offset + 6] == 0xFF)
                parsed.local.append((table[offset + 1], table[offset + 7]))
                offset += 8
            default:
                Issue.record("unknown entry type \(type)")
                return parsed
            }
        }
        #expect(offset == length)
        return parsed
    }

    @Test(arguments: [1, 2, 8, 255])
    func oneProcessorPerCPUAndTheBSPFlagged(cpus: Int) throws {
        let parsed = try parse(try MPTable(cpuCount: cpus).build())
        #expect(parsed.processors.map(\.apicID) == (0..<cpus).map(UInt8.init))
        #expect(parsed.processors.map(\.flags) == [3] + Array(repeating: 1, count: cpus - 1))
        #expect(parsed.buses == ["ISA   "])
        #expect(parsed.local.map(\.type) == [3, 1] && parsed.local.map(\.lint) == [0, 1])
    }

    /// The same CPUs and IOAPIC as the MADT, and the MADT's one override (IRQ 0 on GSI 2).
    @Test func agreesWithTheMADT() throws {
        let madt = MADT(cpuCount: 3).table().encoded()
        var localAPICs: [UInt8] = []
        var ioAPIC: (id: UInt8, address: UInt64)?
        var overrides: [(irq: UInt8, gsi: UInt64)] = []
        var offset = 44
        while offset < madt.count {
            let length = Int(madt[offset + 1])
            try #require(length >= 2)
            switch madt[offset] {
            case 0: localAPICs.append(madt[offset + 3])
            case 1: ioAPIC = (madt[offset + 2], madt.le(offset + 4, 4))
            case 2: overrides.append((madt[offset + 3], madt.le(offset + 4, 4)))
            default: break
            }
            offset += length
        }
        let parsed = try parse(try MPTable(cpuCount: 3).build())
        #expect(parsed.processors.map(\.apicID) == localAPICs)
        let madtIOAPIC = try #require(ioAPIC)
        #expect(parsed.ioAPICs.count == 1)
        #expect(parsed.ioAPICs.first?.id == madtIOAPIC.id && parsed.ioAPICs.first?.address == madtIOAPIC.address)
        #expect(parsed.ioAPICs.first?.version == 0x11)
        for override in overrides {
            let entry = parsed.interrupts.first { $0.type == 0 && $0.irq == override.irq }
            #expect(entry.map { UInt64($0.pin) } == override.gsi)
        }
    }

    @Test func isaInterruptsAndDevicePins() throws {
        let parsed = try parse(try MPTable(cpuCount: 1, devicePins: [5, 16, 23]).build())
        let ints = parsed.interrupts.filter { $0.type == 0 }
        // ISA 0-15 but the cascade, plus pins 16 and 23 (5 is ISA already).
        #expect(ints.map(\.irq) == [0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 23])
        #expect(ints.allSatisfy { $0.irq == 0 ? $0.pin == 2 : $0.pin == $0.irq })
        for entry in ints {
            #expect(entry.flags == ([5, 16, 23].contains(entry.irq) ? 0b0101 : 0), "IRQ \(entry.irq)")
        }
        let extINT = parsed.interrupts.filter { $0.type == 3 }
        #expect(extINT.count == 1 && extINT.first?.pin == 0)
    }

    @Test func badInputsAreRefused() {
        #expect(throws: ACPIError.cpuCount(0)) { try MPTable(cpuCount: 0).build() }
        #expect(throws: ACPIError.cpuCount(256)) { try MPTable(cpuCount: 256).build() }
        #expect(throws: ACPIError.interruptPin(24)) { try MPTable(cpuCount: 1, devicePins: [24]).build() }
        // 255 CPUs need more than the last KiB of base memory: a small limit says so.
        #expect(throws: ACPIError.tooLarge(size: 16 + 44 + 255 * 20 + 8 + 8 + 16 * 8 + 2 * 8, limit: 1024)) {
            try MPTable(cpuCount: 255).build(limit: 1024)
        }
    }

    /// The table for 32 vCPUs and a full pool of pins still fits the KiB Linux scans.
    @Test func aTypicalTableFitsTheLastKiB() throws {
        let blob = try MPTable(cpuCount: 32, devicePins: [5, 6, 7, 10, 11, 14, 15] + Array(16...23)).build(limit: 1024)
        #expect(blob.count <= 1024)
    }
}
