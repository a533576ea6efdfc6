import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

@Suite struct VirtqueueChainIOTests {
    typealias F = VirtqueueFixture

    /// Readable pieces of 3, 1 and 5 bytes holding 0...8 in order, scattered in RAM.
    private func scatteredRequest(_ f: F) throws -> DescriptorChain {
        try f.memory.write(bytes: [0, 1, 2], at: GuestAddress(0x10000))
        try f.memory.write(bytes: [3], at: GuestAddress(0x30000))
        try f.memory.write(bytes: [4, 5, 6, 7, 8], at: GuestAddress(0x20007))
        try f.driver.addChain(
            readable: [F.buffer(0x10000, 3), F.buffer(0x30000, 1), F.buffer(0x20007, 5)],
            writable: [F.buffer(0x40000, 2), F.buffer(0x50000, 3), F.buffer(0x41000, 4)])
        return try #require(try f.queue.popChain())
    }

    @Test func readerStreamsAcrossBufferBoundaries() throws {
        let f = try F()
        let chain = try scatteredRequest(f)
        var reader = ChainReader(memory: f.memory, chain: chain)
        #expect(reader.remaining == 9)
        #expect(try reader.readObject(UInt32.self) == 0x0302_0100)  // 3 + 1 bytes
        #expect(try reader.readBytes(count: 2) == [4, 5])
        try reader.skip(1)
        #expect(reader.remaining == 2 && reader.bytesRead == 7)
        #expect(throws: VirtqueueError.readPastEnd(requested: 3, remaining: 2)) { try reader.readBytes(count: 3) }
        #expect(throws: VirtqueueError.readPastEnd(requested: 4, remaining: 2)) { try reader.readObject(UInt32.self) }
        #expect(reader.remaining == 2)  // a failed read moves nothing
        #expect(try reader.readObject(UInt16.self) == 0x0807)
        #expect(reader.remaining == 0)
        #expect(throws: VirtqueueError.readPastEnd(requested: 1, remaining: 0)) { try reader.skip(1) }
    }

    @Test func writerStreamsAcrossBufferBoundaries() throws {
        let f = try F()
        let chain = try scatteredRequest(f)
        var writer = ChainWriter(memory: f.memory, chain: chain)
        #expect(writer.remaining == 9)
        try writer.writeObject(UInt32(0x4433_2211))  // 2 + 2 bytes
        try writer.write(bytes: [0x55, 0x66, 0x77])  // 1 + 2 bytes
        #expect(writer.bytesWritten == 7 && writer.remaining == 2)
        #expect(throws: VirtqueueError.writePastEnd(requested: 3, remaining: 2)) { try writer.write(bytes: [1, 2, 3]) }
        #expect(try f.memory.readBytes(at: GuestAddress(0x41002), count: 1) == [0])  // nothing written
        try writer.writeObject(UInt8(0x88))
        #expect(writer.usedLength == 8)
        #expect(try f.memory.readBytes(at: GuestAddress(0x40000), count: 2) == [0x11, 0x22])
        #expect(try f.memory.readBytes(at: GuestAddress(0x50000), count: 3) == [0x33, 0x44, 0x55])
        #expect(try f.memory.readBytes(at: GuestAddress(0x41000), count: 4) == [0x66, 0x77, 0x88, 0])
    }

    @Test func ioVectorsLendGuestBuffersInOrder() throws {
        let f = try F()
        let chain = try scatteredRequest(f)
        var writer = ChainWriter(memory: f.memory, chain: chain)
        try writer.writeObject(UInt8(0xAA))
        // Like preadv: offered 1 + 3 + 2 bytes in three pieces, fills only 4 of them.
        let moved = try writer.withIOVectors(count: 6) { pieces in
            #expect(pieces.map(\.count) == [1, 3, 2])
            pieces[0][0] = 1
            for i in 0..<3 { pieces[1][i] = UInt8(2 + i) }
            return 4
        }
        #expect(moved == 4 && writer.bytesWritten == 5)
        try writer.writeObject(UInt8(0xBB))  // lands right after the 4 filled bytes
        #expect(try f.memory.readBytes(at: GuestAddress(0x40000), count: 2) == [0xAA, 1])
        #expect(try f.memory.readBytes(at: GuestAddress(0x50000), count: 3) == [2, 3, 4])
        #expect(try f.memory.readBytes(at: GuestAddress(0x41000), count: 1) == [0xBB])

        #expect(throws: VirtqueueError.transferCountInvalid(returned: 3, offered: 2)) {
            try writer.withIOVectors(count: 2) { _ in 3 }
        }
        #expect(throws: VirtqueueError.writePastEnd(requested: 4, remaining: 3)) {
            try writer.withIOVectors(count: 4) { _ in 0 }
        }

        var reader = ChainReader(memory: f.memory, chain: chain)
        try reader.skip(2)
        var gathered: [UInt8] = []
        try reader.withIOVectors(count: 7) { pieces in  // like writev
            #expect(pieces.map(\.count) == [1, 1, 5])
            for piece in pieces { gathered += Array(piece) }
            return 7
        }
        #expect(gathered == [2, 3, 4, 5, 6, 7, 8])
        #expect(reader.remaining == 0)
    }

    @Test func ioVectorsStartingOnABufferBoundaryHaveNoEmptyPiece() throws {
        let f = try F()
        let chain = try scatteredRequest(f)
        var reader = ChainReader(memory: f.memory, chain: chain)
        #expect(try reader.readBytes(count: 3) == [0, 1, 2])  // exactly the first buffer
        try reader.withIOVectors(count: 6) { pieces in
            #expect(pieces.map(\.count) == [1, 5])
            #expect(pieces.first?.first == 3)
            return 1
        }
        try reader.withIOVectors(count: 5) { pieces in
            #expect(pieces.map(\.count) == [5])
            return 0
        }
    }
}
