import Testing
import SwiftletDevices
import SwiftletTestSupport

/// A guest that sends nonsense gets RST for it (or, with nobody to answer, nothing), and
/// never an RST for an RST.
@Suite struct VsockHostileTests {
    typealias P = VsockProtocol

    @Test func aChainShorterThanAHeaderIsDropped() throws {
        let h = try VsockHarness()
        try h.sendRaw([UInt8](repeating: 0xFF, count: 43))
        #expect(try h.received().isEmpty)
        #expect(h.device.droppedPackets == 1)
    }

    @Test func aHeaderSplitAcrossBuffersIsFine() throws {
        let h = try VsockHarness()
        h.backend.listening.insert(7)
        try h.sendRaw(h.guestHeader(.request, from: 1, to: 7).bytes, pieces: 5)
        #expect(try h.received().map(\.op) == [.response])
    }

    @Test func aForeignSourceCIDIsDroppedWithoutAnswer() throws {
        let h = try VsockHarness()
        h.backend.listening.insert(7)
        var header = h.guestHeader(.request, from: 1, to: 7)
        header.sourceCID = 43
        try h.send(header)
        #expect(try h.received().isEmpty)
        #expect(h.device.connectionCount == 0)
    }

    @Test(arguments: [
        "destination CID", "type", "unknown op", "op 0", "long len", "len past chain", "len on a request",
    ])
    func malformedHeadersGetRST(_ fault: String) throws {
        let h = try VsockHarness()
        h.backend.listening.insert(7)
        var header = h.guestHeader(.request, from: 1, to: 7)
        var payload: [UInt8] = []
        switch fault {
        case "destination CID": header.destinationCID = 3
        case "type": header.type = 2
        case "unknown op": header.op = 8
        case "op 0": header.op = 0
        case "long len":
            header.op = P.Op.readWrite.rawValue
            header.length = UInt32(P.maxPayload + 1)
            payload = [UInt8](repeating: 1, count: P.maxPayload + 1)
        case "len past chain":
            header.op = P.Op.readWrite.rawValue
            header.length = 100
            payload = [1, 2, 3]
        default:
            header.length = 4
            payload = [1, 2, 3, 4]
        }
        try h.send(header, payload: payload)
        let answers = try h.received()
        #expect(answers.map(\.op) == [.reset])
        #expect(answers.first?.header.destinationPort == 1)
        #expect(h.device.connectionCount == 0)
        #expect(h.backend.openStreams.isEmpty)
    }

    @Test func malformedPacketsOnALiveConnectionDropIt() throws {
        let h = try VsockHarness()
        let stream = try h.connectFromGuest(1, to: 7)
        var header = h.guestHeader(.readWrite, from: 1, to: 7, length: 9)
        header.type = 2
        try h.send(header, payload: [UInt8](repeating: 0, count: 9))
        #expect(try h.received().map(\.op) == [.reset])
        #expect(stream.closed)
    }

    @Test(arguments: [P.Op.readWrite, .shutdown, .creditUpdate, .creditRequest, .response])
    func packetsForClosedConnectionsGetRST(_ op: P.Op) throws {
        let h = try VsockHarness()
        let length: UInt32 = op == .readWrite ? 2 : 0
        try h.send(h.guestHeader(op, from: 1, to: 7, length: length), payload: op == .readWrite ? [1, 2] : [])
        #expect(try h.received().map(\.op) == [.reset])
    }

    @Test func anRSTIsNeverAnsweredWithAnRST() throws {
        let h = try VsockHarness()
        try h.send(h.guestHeader(.reset, from: 1, to: 7))
        var bad = h.guestHeader(.reset, from: 1, to: 7, length: 5)
        bad.type = 9
        bad.destinationCID = 77
        try h.send(bad, payload: [1, 2, 3, 4, 5])
        #expect(try h.received().isEmpty)
        #expect(h.device.resetsSent == 0)
    }

    @Test func aForwardCountBeyondWhatWasSentIsACreditLie() throws {
        let h = try VsockHarness()
        let stream = try h.connectFromGuest(1, to: 7)
        stream.toGuest = [1, 2, 3]
        _ = try h.device.streamReadable(stream.id)
        #expect(try h.received().map(\.op) == [.readWrite])
        // Consumed 3: fine. Consumed 4 of 3: a lie.
        try h.send(h.guestHeader(.creditUpdate, from: 1, to: 7, forwardCount: 3))
        #expect(try h.received().isEmpty)
        try h.send(h.guestHeader(.creditUpdate, from: 1, to: 7, forwardCount: 4))
        #expect(try h.received().map(\.op) == [.reset])
        #expect(stream.closed)
    }

    @Test func aFreshRequestWithAForwardCountIsRefused() throws {
        let h = try VsockHarness()
        h.backend.listening.insert(7)
        try h.send(h.guestHeader(.request, from: 1, to: 7, forwardCount: 10))
        #expect(try h.received().map(\.op) == [.reset])
    }

    @Test func aFloodWithoutReceiveBuffersStaysBounded() throws {
        let h = try VsockHarness(receiveBuffers: 0)
        for port in 0..<200 {
            try h.send(h.guestHeader(.creditRequest, from: UInt32(port), to: 7))
        }
        #expect(h.device.resetsSent == 200)
        try h.postReceiveBuffers(16)
        _ = try h.device.process(queue: P.receiveQueue)
        var total = 0
        for _ in 0..<20 {
            let packets = try h.received()
            total += packets.count
            if packets.isEmpty { break }
        }
        #expect(total == 200)
    }

    @Test func tinyReceiveChainsAreReturnedUnused() throws {
        let h = try VsockHarness(receiveBuffers: 0)
        try h.rx.addChain(writable: [VirtioDeviceFixture.buffer(0x80000, 43)])
        try h.send(h.guestHeader(.creditRequest, from: 1, to: 7))
        _ = try h.device.deliverPending()
        let used = try #require(try h.rx.popUsed())
        #expect(used.length == 0)
    }
}
