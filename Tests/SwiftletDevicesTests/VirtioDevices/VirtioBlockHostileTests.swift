import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

/// Requests a hostile or buggy driver may send: each fails alone, and the next works.
@Suite struct VirtioBlockHostileTests {
    typealias H = VirtioBlockHarness
    typealias P = VirtioBlockProtocol

    @Test func readPastTheEndFailsAndTheDiskKeepsWorking() throws {
        let h = try H(bytes: H.pattern(sectors: 8))
        let past = try h.request(type: P.typeIn, sector: 7, inLength: 1024)
        #expect(past.status == P.statusIOError)
        #expect(past.data.allSatisfy { $0 == 0xEE })  // nothing read
        let start = try h.request(type: P.typeIn, sector: 8, inLength: 512)
        #expect(start.status == P.statusIOError)
        let fine = try h.request(type: P.typeIn, sector: 7, inLength: 512)
        #expect(fine.status == P.statusOK && fine.data == Array(H.pattern(sectors: 8)[(7 * 512)...]))
    }

    @Test func writePastTheEndChangesNothing() throws {
        let h = try H(bytes: H.pattern(sectors: 8))
        let reply = try h.request(type: P.typeOut, sector: 6, out: [UInt8](repeating: 9, count: 1536))
        #expect(reply.status == P.statusIOError)
        #expect(h.file.contents == H.pattern(sectors: 8) && h.file.size == 8 * 512)
    }

    @Test func sectorArithmeticOverflowIsAnIOError() throws {
        let h = try H(bytes: H.pattern(sectors: 8))
        for sector in [UInt64.max, UInt64.max / 512, UInt64(1) << 63, UInt64.max - 1] {
            #expect(try h.request(type: P.typeIn, sector: sector, inLength: 512).status == P.statusIOError)
            #expect(try h.request(type: P.typeOut, sector: sector, out: [UInt8](repeating: 1, count: 512)).status
                    == P.statusIOError)
        }
        #expect(h.file.contents == H.pattern(sectors: 8))
    }

    @Test func lengthsThatAreNotWholeSectorsAreIOErrors() throws {
        let h = try H(bytes: H.pattern(sectors: 8))
        #expect(try h.request(type: P.typeIn, sector: 0, inLength: 100).status == P.statusIOError)
        #expect(try h.request(type: P.typeOut, sector: 0, out: [1, 2, 3]).status == P.statusIOError)
        #expect(h.file.contents == H.pattern(sectors: 8))
    }

    @Test func unknownTypesAreUnsupported() throws {
        let h = try H(bytes: H.pattern(sectors: 8))
        for type: UInt32 in [2, 3, 7, 10, 14, 99, .max] {
            let reply = try h.request(type: type, sector: 0)
            #expect(reply.status == P.statusUnsupported && reply.used == 1)
        }
        // Discard without the feature negotiated is unknown too.
        let plain = try H(bytes: H.pattern(sectors: 8), features: 0)
        #expect(try plain.zeroRequest(type: P.typeDiscard, [(0, 1, 0)]).status == P.statusUnsupported)
        #expect(plain.file.contents == H.pattern(sectors: 8))
    }

    @Test func chainWithoutAStatusByteIsReturnedEmpty() throws {
        let h = try H(bytes: H.pattern(sectors: 8))
        try h.memory.write(P.typeIn.littleEndian, at: GuestAddress(H.header))
        try h.driver.addChain(readable: [H.F.buffer(H.header, 16), H.F.buffer(H.outData, 512)])
        _ = try h.device.process(queue: 0)
        #expect(try h.driver.popUsed()?.length == 0)
        #expect(try h.request(type: P.typeIn, sector: 0, inLength: 512).status == P.statusOK)
    }

    @Test func shortHeaderIsAnIOError() throws {
        let h = try H(bytes: H.pattern(sectors: 8))
        try h.memory.write(UInt8(0xFF), at: GuestAddress(H.status))
        try h.driver.addChain(readable: [H.F.buffer(H.header, 8)], writable: [H.F.buffer(H.status, 1)])
        _ = try h.device.process(queue: 0)
        #expect(try h.driver.popUsed()?.length == 1)
        #expect(try h.memory.read(UInt8.self, at: GuestAddress(H.status)) == P.statusIOError)
        // Only a status byte, no header at all.
        try h.driver.addChain(writable: [H.F.buffer(H.status, 1)])
        _ = try h.device.process(queue: 0)
        #expect(try h.driver.popUsed()?.length == 1)
        #expect(try h.memory.read(UInt8.self, at: GuestAddress(H.status)) == P.statusIOError)
    }

    @Test func statusIsTheLastWritableByte() throws {
        // One writable buffer holding 512 data bytes and the status right after.
        let h = try H(bytes: H.pattern(sectors: 8))
        try h.memory.write(P.typeIn.littleEndian, at: GuestAddress(H.header))
        try h.memory.write(UInt64(1).littleEndian, at: GuestAddress(H.header + 8))
        try h.driver.addChain(readable: [H.F.buffer(H.header, 16)], writable: [H.F.buffer(H.inData, 513)])
        _ = try h.device.process(queue: 0)
        #expect(try h.driver.popUsed()?.length == 513)
        #expect(try h.memory.readBytes(at: GuestAddress(H.inData), count: 512) == Array(H.pattern(sectors: 8)[512..<1024]))
        #expect(try h.memory.read(UInt8.self, at: GuestAddress(H.inData + 512)) == P.statusOK)
    }

    @Test func brokenRingIsReportedToTheTransport() throws {
        let h = try H(bytes: H.pattern(sectors: 8))
        try h.driver.pushAvail(head: 200)  // past the 16-entry queue
        try h.driver.publish()
        #expect(throws: VirtqueueError.descriptorIndexOutOfRange(index: 200, size: 16)) {
            try h.device.process(queue: 0)
        }
    }

    @Test func unknownQueueOrNoQueueDoesNothing() throws {
        let h = try H(bytes: H.pattern(sectors: 8))
        #expect(try h.device.process(queue: 1) == false)
        #expect(try h.device.process(queue: -1) == false)
        h.device.reset()
        try h.driver.addChain(readable: [H.F.buffer(H.header, 16)], writable: [H.F.buffer(H.status, 1)])
        #expect(try h.device.process(queue: 0) == false)
        #expect(try h.driver.popUsed() == nil)
    }
}
