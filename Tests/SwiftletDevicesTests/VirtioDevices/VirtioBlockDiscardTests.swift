import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

@Suite struct VirtioBlockDiscardTests {
    typealias H = VirtioBlockHarness
    typealias P = VirtioBlockProtocol

    private static let full = [UInt8](repeating: 0xAB, count: 8 * 512)

    /// The file with sectors in `ranges` zeroed.
    private static func expected(zeroing ranges: [Range<Int>]) -> [UInt8] {
        var bytes = full
        for range in ranges { for i in (range.lowerBound * 512)..<(range.upperBound * 512) { bytes[i] = 0 } }
        return bytes
    }

    @Test func discardZeroesTheRangeAndKeepsTheSize() throws {
        let h = try H(bytes: Self.full)
        let reply = try h.zeroRequest(type: P.typeDiscard, [(1, 2, 0), (6, 1, 0)])
        #expect(reply.status == P.statusOK && reply.used == 1)
        #expect(h.file.contents == Self.expected(zeroing: [1..<3, 6..<7]))
        #expect(h.file.size == 8 * 512)
    }

    @Test func discardDeallocatesWhereTheFileSystemCan() throws {
        // 64 KiB of data; discarding the second half should punch a hole (ext4, xfs,
        // tmpfs and btrfs all can), so the file occupies fewer blocks.
        let h = try H(bytes: [UInt8](repeating: 0x5A, count: 128 * 512))
        #expect(h.device.canDeallocate)
        try #require(try h.request(type: P.typeFlush, sector: 0).status == P.statusOK)
        let before = h.file.allocatedBlocks
        #expect(try h.zeroRequest(type: P.typeDiscard, [(64, 64, 0)]).status == P.statusOK)
        #expect(h.file.allocatedBlocks < before)
        #expect(h.file.size == 128 * 512)
    }

    @Test func writeZeroesZeroesWithAndWithoutUnmap() throws {
        let h = try H(bytes: Self.full)
        #expect(try h.zeroRequest(type: P.typeWriteZeroes, [(0, 1, 0)]).status == P.statusOK)
        #expect(try h.zeroRequest(type: P.typeWriteZeroes, [(7, 1, P.segmentUnmapForTests)]).status == P.statusOK)
        #expect(h.file.contents == Self.expected(zeroing: [0..<1, 7..<8]))
        #expect(h.file.size == 8 * 512)
        let read = try h.request(type: P.typeIn, sector: 7, inLength: 512)
        #expect(read.data.allSatisfy { $0 == 0 })
    }

    @Test func outOfRangeSegmentFailsTheWholeList() throws {
        let h = try H(bytes: Self.full)
        for type in [P.typeDiscard, P.typeWriteZeroes] {
            // The first segment is fine, the second runs off the end: nothing changes.
            #expect(try h.zeroRequest(type: type, [(0, 1, 0), (7, 2, 0)]).status == P.statusIOError)
            #expect(try h.zeroRequest(type: type, [(UInt64.max, 1, 0)]).status == P.statusIOError)
            #expect(try h.zeroRequest(type: type, [(8, 1, 0)]).status == P.statusIOError)
        }
        #expect(h.file.contents == Self.full)
    }

    @Test func segmentsOverTheAdvertisedLimitsFail() throws {
        // Sparse, so the disk is big enough that only the limits can refuse.
        let h = try H(bytes: Self.full, size: 4 << 30)
        let tooLong = VirtioBlock.maxDiscardSectors + 1
        #expect(try h.zeroRequest(type: P.typeDiscard, [(0, tooLong, 0)]).status == P.statusIOError)
        let tooMany = [(UInt64, UInt32, UInt32)](repeating: (0, 1, 0), count: Int(VirtioBlock.maxDiscardSegments) + 1)
        #expect(try h.zeroRequest(type: P.typeWriteZeroes, tooMany).status == P.statusIOError)
        #expect(h.file.contents(limit: Self.full.count) == Self.full)
    }

    @Test func malformedListsAndFlagsAreRefused() throws {
        let h = try H(bytes: Self.full)
        // Unmap on a discard, unknown flags anywhere: UNSUPP (virtio 1.2 5.2.6.2).
        #expect(try h.zeroRequest(type: P.typeDiscard, [(0, 1, P.segmentUnmapForTests)]).status == P.statusUnsupported)
        #expect(try h.zeroRequest(type: P.typeWriteZeroes, [(0, 1, 2)]).status == P.statusUnsupported)
        // A list that is not whole segments, or empty.
        #expect(try h.request(type: P.typeDiscard, sector: 0, out: [UInt8](repeating: 0, count: 15)).status
                == P.statusIOError)
        #expect(try h.zeroRequest(type: P.typeDiscard, []).status == P.statusIOError)
        #expect(h.file.contents == Self.full)
    }
}

extension VirtioBlockProtocol {
    /// VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, spelled out here so a wrong value in the
    /// device shows up as a disagreement.
    static let segmentUnmapForTests: UInt32 = 1
}
