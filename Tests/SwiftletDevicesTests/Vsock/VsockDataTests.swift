import Testing
import SwiftletDevices
import SwiftletTestSupport

@Suite struct VsockDataTests {
    typealias P = VsockProtocol

    func pattern(_ count: Int, seed: Int = 0) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &+ seed) &* 31 &+ 7) }
    }

    @Test func hostBytesReachTheGuestWithinItsCredit() throws {
        let h = try VsockHarness()
        let stream = try h.connectFromGuest(5000, to: 7, bufferAllocation: 10_000)
        stream.toGuest = pattern(30_000)
        _ = try h.device.streamReadable(stream.id)
        var got: [UInt8] = []
        var packets = try h.received()
        for packet in packets where packet.op == .readWrite { got += packet.payload }
        // The guest offered 10,000 bytes of buffer: that much and no more, then a request.
        #expect(got == pattern(10_000))
        #expect(packets.last?.op == .creditRequest)
        #expect(packets.allSatisfy { $0.payload.count <= 4096 })
        #expect(!stream.readableWatched)  // bytes stay in the host socket meanwhile
        // The guest consumed it all: the rest comes.
        while got.count < 30_000 {
            try h.send(h.guestHeader(.creditUpdate, from: 5000, to: 7, bufferAllocation: 10_000, forwardCount: UInt32(got.count)))
            packets = try h.received()
            let data = packets.filter { $0.op == .readWrite }
            #expect(!data.isEmpty)
            if data.isEmpty { break }
            for packet in data { got += packet.payload }
        }
        #expect(got == pattern(30_000))
        // With credit again the device finds the stream dry and watches it again.
        try h.send(h.guestHeader(.creditUpdate, from: 5000, to: 7, bufferAllocation: 10_000, forwardCount: 30_000))
        #expect(try h.received().isEmpty)
        #expect(stream.readableWatched)
    }

    @Test func guestBytesReachTheHostAndCreditIsReturned() throws {
        let h = try VsockHarness(bufferAllocation: 16_384)
        let stream = try h.connectFromGuest(5000, to: 7)
        stream.accepting = 3000  // a slow reader, so bytes wait and credit matters
        var expected: [UInt8] = []
        var updates: [UInt32] = []
        var forwardSeen: UInt32 = 0
        // Four times the buffer: an honest guest needs our CREDIT_UPDATEs to get through.
        while expected.count < 65_536 {
            let credit = 16_384 - (expected.count - Int(forwardSeen))
            let chunk = min(4000, credit, 65_536 - expected.count)
            if chunk > 0 {
                let bytes = pattern(chunk, seed: expected.count)
                try h.send(h.guestHeader(.readWrite, from: 5000, to: 7, length: UInt32(chunk)), payload: bytes)
                expected += bytes
            }
            stream.accepting = 3000
            _ = try h.device.streamWritable(stream.id)
            for packet in try h.received() where packet.op == .creditUpdate {
                updates.append(packet.header.forwardCount)
                forwardSeen = packet.header.forwardCount
            }
        }
        stream.accepting = nil
        _ = try h.device.streamWritable(stream.id)
        #expect(stream.fromGuest == expected)
        #expect(!updates.isEmpty)
        #expect(updates == updates.sorted())
        #expect(h.device.connectionCount == 1)
    }

    @Test func aHostReaderThatStopsStallsOnlyItsConnectionAndLosesNothing() throws {
        let h = try VsockHarness(bufferAllocation: 8192)
        let slow = try h.connectFromGuest(1, to: 7)
        let fast = try h.connectFromGuest(2, to: 8)
        slow.accepting = 0
        let data = pattern(8192, seed: 3)
        for start in stride(from: 0, to: 8192, by: 2048) {
            try h.send(h.guestHeader(.readWrite, from: 1, to: 7, length: 2048), payload: Array(data[start..<(start + 2048)]))
        }
        #expect(slow.fromGuest.isEmpty)
        #expect(slow.writableWatched)
        // The other connection runs on.
        try h.send(h.guestHeader(.readWrite, from: 2, to: 8, length: 5), payload: [9, 8, 7, 6, 5])
        #expect(fast.fromGuest == [9, 8, 7, 6, 5])
        // The host program reads again: everything, in order, and the guest hears of the room.
        slow.accepting = nil
        _ = try h.device.streamWritable(slow.id)
        #expect(slow.fromGuest == data)
        #expect(!slow.writableWatched)
        let updates = try h.received().filter { $0.op == .creditUpdate && $0.header.destinationPort == 1 }
        #expect(updates.last?.header.forwardCount == 8192)
        #expect(h.device.connectionCount == 2)
    }

    @Test func aGuestThatSendsPastItsCreditLosesTheConnection() throws {
        let h = try VsockHarness(bufferAllocation: 8192)
        let stream = try h.connectFromGuest(1, to: 7)
        stream.accepting = 0
        try h.send(h.guestHeader(.readWrite, from: 1, to: 7, length: 4096), payload: pattern(4096))
        try h.send(h.guestHeader(.readWrite, from: 1, to: 7, length: 4097), payload: pattern(4097))
        #expect(try h.received().map(\.op) == [.reset])
        #expect(stream.closed)
        #expect(h.device.connectionCount == 0)
    }

    @Test func shutdownFlagsPassToTheHostAndFullShutdownIsAnsweredWithRST() throws {
        let h = try VsockHarness()
        let stream = try h.connectFromGuest(1, to: 7)
        stream.accepting = 2
        try h.send(h.guestHeader(.readWrite, from: 1, to: 7, length: 4), payload: [1, 2, 3, 4])
        try h.send(h.guestHeader(.shutdown, from: 1, to: 7, flags: P.shutdownSend))
        // End-of-file only after the waiting bytes.
        #expect(!stream.writeShut)
        stream.accepting = nil
        _ = try h.device.streamWritable(stream.id)
        #expect(stream.fromGuest == [1, 2, 3, 4])
        #expect(stream.writeShut)
        // Data after SHUTDOWN(SEND) is a protocol error.
        try h.send(h.guestHeader(.readWrite, from: 1, to: 7, length: 1), payload: [5])
        #expect(try h.received().map(\.op).contains(.reset))
        #expect(stream.closed)

        let second = try h.connectFromGuest(2, to: 7)
        try h.send(h.guestHeader(.shutdown, from: 2, to: 7, flags: P.shutdownBoth))
        #expect(try h.received().map(\.op) == [.reset])
        #expect(second.closed)
        #expect(h.device.connectionCount == 0)
    }

    @Test func theHostEndingSaysShutdownAndTheGuestsRSTFinishes() throws {
        let h = try VsockHarness()
        let stream = try h.connectFromGuest(1, to: 7)
        stream.toGuest = [1, 2, 3]
        stream.hostEnded = true
        _ = try h.device.streamReadable(stream.id)
        let packets = try h.received()
        #expect(packets.map(\.op) == [.readWrite, .shutdown])
        #expect(packets.first?.payload == [1, 2, 3])
        #expect(packets.last?.header.flags == P.shutdownBoth)
        #expect(h.backend.deadline != nil)
        try h.send(h.guestHeader(.reset, from: 1, to: 7, forwardCount: 3))
        #expect(stream.closed)
        #expect(try h.received().isEmpty)
        #expect(h.backend.deadline == nil)
    }

    @Test func sixteenConnectionsInterleave() throws {
        let h = try VsockHarness(maxConnections: 16)
        var streams: [InMemoryVsockBackend.Stream] = []
        for port in 0..<16 { streams.append(try h.connectFromGuest(UInt32(100 + port), to: 7)) }
        for (index, stream) in streams.enumerated() {
            stream.toGuest = pattern(10_000, seed: index)
            _ = try h.device.streamReadable(stream.id)
        }
        var got: [UInt32: [UInt8]] = [:]
        for _ in 0..<100 {
            let packets = try h.received()
            if packets.isEmpty { break }
            for packet in packets where packet.op == .readWrite { got[packet.header.destinationPort, default: []] += packet.payload }
        }
        for index in 0..<16 { #expect(got[UInt32(100 + index)] == pattern(10_000, seed: index)) }
    }
}
