import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

@Suite struct VirtioBlockRequestTests {
    typealias H = VirtioBlockHarness
    typealias P = VirtioBlockProtocol

    @Test func writeThenReadRoundTripsThroughTheFile() throws {
        let h = try H(bytes: [UInt8](repeating: 0, count: 16 * 512))
        let data = H.pattern(sectors: 3, salt: 5)
        let written = try h.request(type: P.typeOut, sector: 2, out: data, outPieces: 2)
        #expect(written.status == P.statusOK && written.used == 1)
        #expect(written.interrupt)
        let file = h.file.contents
        #expect(Array(file[1024..<(1024 + 1536)]) == data)
        #expect(file[0..<1024].allSatisfy { $0 == 0 } && file[2560...].allSatisfy { $0 == 0 })

        // Back through three writable pieces that cut sectors in odd places.
        let read = try h.request(type: P.typeIn, sector: 2, inLength: 1536, inPieces: 3)
        #expect(read.status == P.statusOK)
        #expect(read.used == 1536 + 1)  // data plus the status byte
        #expect(read.data == data)
    }

    @Test func readSeesWhatTheHostFileHolds() throws {
        let h = try H(bytes: H.pattern(sectors: 8))
        let read = try h.request(type: P.typeIn, sector: 5, inLength: 1024, inPieces: 4)
        #expect(read.status == P.statusOK)
        #expect(read.data == Array(H.pattern(sectors: 8)[(5 * 512)..<(7 * 512)]))
    }

    @Test func flushSucceeds() throws {
        let h = try H(bytes: [UInt8](repeating: 1, count: 512))
        let reply = try h.request(type: P.typeFlush, sector: 0)
        #expect(reply.status == P.statusOK && reply.used == 1)
    }

    @Test func getIDAnswersTheTwentyByteSerial() throws {
        let h = try H(bytes: [UInt8](repeating: 1, count: 512))
        let reply = try h.request(type: P.typeGetID, sector: 0, inLength: 20)
        #expect(reply.status == P.statusOK && reply.used == 21)
        #expect(reply.data == h.device.serial)
        #expect(h.device.serial.count == 20 && h.device.serial[0] != 0)
        // Another file, another serial.
        let other = try H(bytes: [UInt8](repeating: 1, count: 512))
        #expect(other.device.serial != h.device.serial)
        // A shorter buffer gets the serial's start.
        let short = try h.request(type: P.typeGetID, sector: 0, inLength: 8)
        #expect(short.status == P.statusOK && short.used == 9 && short.data == Array(h.device.serial.prefix(8)))
    }

    @Test func readOnlyDiskRefusesWritesAndKeepsItsBytes() throws {
        let original = H.pattern(sectors: 4)
        let h = try H(bytes: original, readOnly: true)
        #expect(h.device.deviceFeatures & P.featureReadOnly != 0)
        #expect(h.device.deviceFeatures & (P.featureDiscard | P.featureWriteZeroes) == 0)
        let write = try h.request(type: P.typeOut, sector: 0, out: [UInt8](repeating: 0x55, count: 512))
        #expect(write.status == P.statusIOError && write.used == 1)
        // Sent anyway, against the features: still no change.
        let zeroes = try h.zeroRequest(type: P.typeWriteZeroes, [(0, 1, 0)])
        #expect(zeroes.status != P.statusOK)
        #expect(h.file.contents == original)
        let read = try h.request(type: P.typeIn, sector: 1, inLength: 512)
        #expect(read.status == P.statusOK && read.data == Array(original[512..<1024]))
    }

    @Test func severalRequestsInOneNotificationAllComplete() throws {
        let h = try H(bytes: [UInt8](repeating: 0, count: 8 * 512))
        try h.memory.write(P.typeFlush.littleEndian, at: GuestAddress(0x70000))
        try h.memory.write(UInt32(99).littleEndian, at: GuestAddress(0x70010))
        try h.driver.addChain(readable: [H.F.buffer(0x70000, 16)], writable: [H.F.buffer(0x71000, 1)], publish: false)
        try h.driver.addChain(readable: [H.F.buffer(0x70010, 16)], writable: [H.F.buffer(0x71001, 1)])
        #expect(try h.device.process(queue: 0))
        #expect(try h.driver.popUsed()?.length == 1)
        #expect(try h.driver.popUsed()?.length == 1)
        #expect(try h.memory.readBytes(at: GuestAddress(0x71000), count: 2) == [P.statusOK, P.statusUnsupported])
        // Nothing new: no interrupt.
        #expect(try h.device.process(queue: 0) == false)
    }

    @Test func moreBuffersThanIOVMaxAreStillOneTransfer() throws {
        // 1536 one-byte buffers in an indirect table: preadv takes at most 1024 at a time.
        let h = try H(bytes: H.pattern(sectors: 4), indirect: true)
        try h.memory.write(P.typeIn.littleEndian, at: GuestAddress(H.header))
        try h.memory.write(UInt64(1).littleEndian, at: GuestAddress(H.header + 8))
        let pieces = (0..<1536).map { H.F.buffer(H.inData + 2 * UInt64($0), 1) }  // every other byte
        try h.driver.addChain(
            readable: [H.F.buffer(H.header, 16)], writable: pieces + [H.F.buffer(H.status, 1)],
            indirectTable: GuestAddress(0x80000))
        _ = try h.device.process(queue: 0)
        #expect(try h.driver.popUsed()?.length == 1537)
        #expect(try h.memory.read(UInt8.self, at: GuestAddress(H.status)) == P.statusOK)
        let landed = try h.memory.readBytes(at: GuestAddress(H.inData), count: 3072)
        #expect(stride(from: 0, to: 3072, by: 2).map { landed[$0] } == Array(H.pattern(sectors: 4)[512..<2048]))
    }
}
