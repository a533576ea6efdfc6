import Foundation
import SwiftletMemory
import Testing
@testable import SwiftletSnapshot

@Suite struct MemoryFileTests {
    let ranges: [(start: UInt64, size: UInt64)] = [(0, 1 << 20), (4 << 20, 1 << 20)]

    func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-mem-\(UUID().uuidString)").path
    }

    /// Guest RAM with a few scattered pages written, the rest never touched.
    func guestRAM() throws -> GuestMemory {
        let memory = try GuestMemory(ranges: ranges)
        try memory.write(bytes: Array("first page".utf8), at: GuestAddress(0))
        try memory.fill(0x5A, at: GuestAddress(0x3000), count: 0x2000)
        try memory.write(UInt64(0x1122_3344_5566_7788), at: GuestAddress(0x0F_FFF8))
        try memory.write(UInt32(0xfeed_f00d), at: GuestAddress((4 << 20) + 0x8_0000))
        return memory
    }

    @Test(arguments: [true, false])
    func ramComesBackFromTheMemoryFile(sparse: Bool) throws {
        let memory = try guestRAM()
        let path = temporaryPath()
        defer { unlink(path) }
        try MemoryFile.write(memory, to: path, sparse: sparse)
        let restored = try MemoryFile.map(path, layout: GuestRAMLayout(memory))
        for region in memory.regions {
            #expect(try restored.readBytes(at: region.start, count: Int(region.size))
                    == memory.readBytes(at: region.start, count: Int(region.size)))
        }
        #expect(try restored.read(UInt32.self, at: GuestAddress((4 << 20) + 0x8_0000)) == 0xfeed_f00d)

        // The guest writing after a restore changes its own pages, never the snapshot.
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        try restored.fill(0xFF, at: GuestAddress(0), count: 1 << 20)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    /// Skipped zero pages are holes: the sparse file allocates only the written pages.
    @Test func sparseFilesHoldOnlyWrittenPages() throws {
        let memory = try guestRAM()
        let path = temporaryPath()
        defer { unlink(path) }
        try MemoryFile.write(memory, to: path, sparse: true)
        var status = stat()
        #expect(stat(path, &status) == 0)
        #expect(status.st_size == 2 << 20)
        // Five pages written (0, 3, 4, 255, and one in the second region); allow the file
        // system some metadata blocks, but not the 2 MiB a whole write allocates.
        #expect(Int(status.st_blocks) * 512 < 256 << 10)
    }

    @Test func layoutRoundTripsAndRejectsBadRanges() throws {
        let layout = GuestRAMLayout(try GuestMemory(ranges: ranges))
        #expect(try GuestRAMLayout(layout.section) == layout)
        for bad in [[GuestRAMLayout.Range(start: 0x800, size: 0x1000)],
                    [.init(start: 0, size: 0x2000), .init(start: 0x1000, size: 0x1000)],
                    [.init(start: UInt64.max - 0xfff, size: 0x1000)]] {
            #expect(throws: SnapshotError.self) { try GuestRAMLayout(GuestRAMLayout(ranges: bad).section) }
        }
    }

    @Test func aMemoryFileOfTheWrongSizeIsRefused() throws {
        let memory = try guestRAM()
        let path = temporaryPath()
        defer { unlink(path) }
        try MemoryFile.write(memory, to: path)
        let bigger = GuestRAMLayout(ranges: [.init(start: 0, size: 4 << 20)])
        #expect(throws: SnapshotError.self) { try MemoryFile.map(path, layout: bigger) }
    }
}

extension MemoryFileTests {
    /// A VM restored from a memory file and saved again to the same path keeps running on
    /// the old file: its untouched pages still read (no SIGBUS), and the new file holds
    /// what the VM has now.
    @Test func savingOverTheFileARestoredVMRunsOnIsSafe() throws {
        let path = temporaryPath()
        defer { unlink(path) }
        try MemoryFile.write(try guestRAM(), to: path)
        let restored = try MemoryFile.map(path, layout: GuestRAMLayout(try GuestMemory(ranges: ranges)))
        try restored.write(bytes: Array("changed".utf8), at: GuestAddress(0))
        try MemoryFile.write(restored, to: path)
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        #expect(try restored.read(UInt8.self, at: GuestAddress(0x3000)) == 0x5A)
        let again = try MemoryFile.map(path, layout: GuestRAMLayout(restored))
        #expect(try again.readBytes(at: GuestAddress(0), count: 7) == Array("changed".utf8))
        #expect(try again.read(UInt64.self, at: GuestAddress(0x0F_FFF8)) == 0x1122_3344_5566_7788)
    }
}
