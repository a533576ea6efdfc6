import Testing
import SwiftletDevices
import SwiftletTestSupport

@Suite struct VsockConnectionTests {
    typealias P = VsockProtocol

    @Test func guestCIDIsReadOnlyConfigAndBelowThreeIsRefused() throws {
        let backend = InMemoryVsockBackend()
        for cid: UInt64 in [0, 1, 2, 1 << 32] { #expect(VirtioVsock(guestCID: cid, backend: backend) == nil) }
        let device = try #require(VirtioVsock(guestCID: 0x1234_5678, backend: backend))
        device.configWrite(offset: 0, size: 8, value: 99)
        #expect(device.configRead(offset: 0, size: 8) == 0x1234_5678)
        #expect(device.configRead(offset: 2, size: 2) == 0x1234)
        #expect(device.configRead(offset: 8, size: 4) == 0)
        #expect(device.deviceID == 19)
        #expect(device.queueMaxSizes.count == 3)
    }

    @Test func guestConnectsToAListeningHostPort() throws {
        let h = try VsockHarness()
        h.backend.listening.insert(1234)
        try h.send(h.guestHeader(.request, from: 5000, to: 1234))
        let answers = try h.received()
        #expect(answers.count == 1)
        let response = try #require(answers.first)
        #expect(response.op == .response)
        #expect(response.header.sourceCID == P.hostCID)
        #expect(response.header.destinationCID == VsockHarness.guestCID)
        #expect(response.header.sourcePort == 1234)
        #expect(response.header.destinationPort == 5000)
        #expect(response.header.bufferAllocation == 64 * 1024)
        #expect(h.device.connectionCount == 1)
        #expect(h.backend.openStreams.first?.readableWatched == true)
    }

    @Test func guestConnectToAPortNobodyListensOnGetsRST() throws {
        let h = try VsockHarness()
        try h.send(h.guestHeader(.request, from: 5000, to: 1234))
        let answers = try h.received()
        #expect(answers.map(\.op) == [.reset])
        #expect(answers.first?.header.sourcePort == 1234)
        #expect(answers.first?.header.destinationPort == 5000)
        #expect(h.device.connectionCount == 0)
    }

    @Test func hostConnectGetsOKOnceTheGuestAnswers() throws {
        let h = try VsockHarness()
        let stream = h.backend.openHostStream()
        _ = try h.device.hostConnect(stream.id, toGuestPort: 80)
        let requests = try h.received()
        let request = try #require(requests.first)
        #expect(requests.count == 1)
        #expect(request.op == .request)
        #expect(request.header.destinationPort == 80)
        let hostPort = request.header.sourcePort
        #expect(hostPort >= 1 << 30 && hostPort < 1 << 31)
        #expect(stream.fromGuest.isEmpty)
        try h.send(h.guestHeader(.response, from: 80, to: hostPort))
        #expect(String(decoding: stream.fromGuest, as: UTF8.self) == "OK \(hostPort)\n")
        #expect(h.backend.deadline == nil)
        // The stream is live: bytes both ways.
        try h.send(h.guestHeader(.readWrite, from: 80, to: hostPort, length: 3), payload: [1, 2, 3])
        #expect(stream.fromGuest.suffix(3) == [1, 2, 3])
    }

    @Test func hostConnectRefusedByTheGuestClosesWithoutOK() throws {
        let h = try VsockHarness()
        let stream = h.backend.openHostStream()
        _ = try h.device.hostConnect(stream.id, toGuestPort: 80)
        let request = try #require(try h.received().first)
        try h.send(h.guestHeader(.reset, from: 80, to: request.header.sourcePort))
        #expect(stream.closed)
        #expect(stream.fromGuest.isEmpty)
        #expect(try h.received().isEmpty)  // no RST for an RST
        #expect(h.device.connectionCount == 0)
    }

    @Test func hostConnectTimesOutWhenTheGuestNeverAnswers() throws {
        let h = try VsockHarness()
        let stream = h.backend.openHostStream()
        _ = try h.device.hostConnect(stream.id, toGuestPort: 80)
        let request = try #require(try h.received().first)
        let deadline = try #require(h.backend.deadline)
        #expect(deadline == h.clock.now + VirtioVsock.defaultConnectTimeout)
        h.clock.advance(VirtioVsock.defaultConnectTimeout - 1)
        _ = try h.device.expire()
        #expect(!stream.closed)
        h.clock.advance(1)
        _ = try h.device.expire()
        #expect(stream.closed)
        #expect(stream.fromGuest.isEmpty)
        #expect(h.backend.deadline == nil)
        let reset = try h.received()
        #expect(reset.map(\.op) == [.reset])
        #expect(reset.first?.header.sourcePort == request.header.sourcePort)
        // The guest's late answer finds nothing: RST.
        try h.send(h.guestHeader(.response, from: 80, to: request.header.sourcePort))
        #expect(try h.received().map(\.op) == [.reset])
    }

    @Test func connectionCapRefusesBothDirections() throws {
        let h = try VsockHarness(maxConnections: 2)
        try h.connectFromGuest(1, to: 7)
        try h.connectFromGuest(2, to: 7)
        try h.send(h.guestHeader(.request, from: 3, to: 7))
        #expect(try h.received().map(\.op) == [.reset])
        let stream = h.backend.openHostStream()
        _ = try h.device.hostConnect(stream.id, toGuestPort: 80)
        #expect(stream.closed)
        #expect(h.device.connectionCount == 2)
    }

    @Test func aSecondRequestForALiveConnectionResetsIt() throws {
        let h = try VsockHarness()
        let stream = try h.connectFromGuest(1, to: 7)
        try h.send(h.guestHeader(.request, from: 1, to: 7))
        #expect(try h.received().map(\.op) == [.reset])
        #expect(stream.closed)
        #expect(h.device.connectionCount == 0)
    }

    @Test func deviceResetDropsEveryConnectionAndKeepsNothing() throws {
        let h = try VsockHarness()
        let a = try h.connectFromGuest(1, to: 7)
        let b = try h.connectFromGuest(2, to: 8)
        let c = h.backend.openHostStream()
        _ = try h.device.hostConnect(c.id, toGuestPort: 80)
        h.device.reset()
        #expect(a.closed && b.closed && c.closed)
        #expect(h.device.connectionCount == 0)
        #expect(h.backend.deadline == nil)
        // Before the driver starts it again, host connections are refused.
        let d = h.backend.openHostStream()
        _ = try h.device.hostConnect(d.id, toGuestPort: 80)
        #expect(d.closed)
    }

    @Test func transportResetEventReachesTheGuestAndDropsConnections() throws {
        let h = try VsockHarness()
        let a = try h.connectFromGuest(1, to: 7)
        _ = try h.device.signalTransportReset()
        #expect(a.closed)
        // No event buffer yet: it waits for one.
        #expect(try h.events.popUsed() == nil)
        try h.events.addChain(writable: [VirtioDeviceFixture.buffer(0x90000, 8)])
        try h.fixture.memory.write(UInt32(0xFFFF_FFFF), at: .init(0x90000))
        _ = try h.device.process(queue: P.eventQueue)
        let used = try #require(try h.events.popUsed())
        #expect(used.length == 4)
        #expect(try h.fixture.memory.read(UInt32.self, at: .init(0x90000)) == 0)
        // Only once.
        try h.events.addChain(writable: [VirtioDeviceFixture.buffer(0x90100, 8)])
        _ = try h.device.process(queue: P.eventQueue)
        #expect(try h.events.popUsed() == nil)
    }
}
