import Foundation
import Testing
@testable import SwiftletMemory

@Suite struct GuestMemoryFileTests {
    let ranges: [(start: UInt64, size: UInt64)] = [(0, 0x10000), (0x100000, 0x4000)]

    /// A file holding the two regions back to back, each byte its offset's low bits.
    func memoryFile() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-ram-\(UUID().uuidString)").path
        let bytes = (0..<0x14000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func mapsAFileAsRAMRegionsBackToBack() throws {
        let path = try memoryFile()
        defer { unlink(path) }
        let memory = try GuestMemory(ranges: ranges, mappingFile: path)
        #expect(memory.size == 0x14000)
        #expect(try memory.readBytes(at: GuestAddress(0x10), count: 2) == [0x70, 0x77])
        // The second region starts at file offset 0x10000.
        #expect(try memory.read(UInt8.self, at: GuestAddress(0x100001)) == UInt8(truncatingIfNeeded: 0x10001 &* 7))
        #expect(throws: GuestMemoryError.self) { try memory.readBytes(at: GuestAddress(0x10000), count: 1) }
    }

    @Test func writesStayInTheMappingNotTheFile() throws {
        let path = try memoryFile()
        defer { unlink(path) }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            let memory = try GuestMemory(ranges: ranges, mappingFile: path)
            try memory.fill(0xEE, at: GuestAddress(0), count: 0x10000)
            try memory.write(UInt64.max, at: GuestAddress(0x100100))
            #expect(try memory.read(UInt64.self, at: GuestAddress(0x100100)) == UInt64.max)
            // A second VM from the same file sees the file, not the first one's writes.
            let other = try GuestMemory(ranges: ranges, mappingFile: path)
            #expect(try other.read(UInt8.self, at: GuestAddress(0x10)) == 0x70)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func refusesAFileOfTheWrongSize() throws {
        let path = try memoryFile()
        defer { unlink(path) }
        #expect(throws: GuestMemoryError.fileSizeMismatch(path: path, expected: 0x24000, actual: 0x14000)) {
            try GuestMemory(ranges: [(0, 0x20000), (0x100000, 0x4000)], mappingFile: path)
        }
        #expect(throws: GuestMemoryError.self) { try GuestMemory(ranges: ranges, mappingFile: path + ".absent") }
    }

    @Test func lendsRegionsWithTheirFileOffsets() throws {
        let memory = try GuestMemory(ranges: ranges)
        try memory.write(UInt8(9), at: GuestAddress(0x100000))
        var seen: [(UInt64, Int, UInt8)] = []
        try memory.forEachRegionInFileOrder { region, offset, bytes in seen.append((region.start.value, offset, bytes[0])) }
        #expect(seen.map(\.0) == [0, 0x100000])
        #expect(seen.map(\.1) == [0, 0x10000])
        #expect(seen.map(\.2) == [0, 9])
    }
}
