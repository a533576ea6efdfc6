#if canImport(Glibc)
import Glibc
#endif
import Testing
import SwiftletDevices
import SwiftletHost
@testable import SwiftletMachine

/// The vsock host side on real Unix sockets and a running event loop; the guest is played
/// by mock queue drivers (VsockGuestSide).
@Suite(.serialized) struct VsockUnixBackendTests {
    typealias P = VsockProtocol

    func pattern(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &+ seed) &* 131 &+ 17) }
    }

    @Test func anExistingPathIsRefusedAndTheSocketIsRemovedOnClose() throws {
        let side = try VsockGuestSide()
        #expect(access(side.path, F_OK) == 0)
        #expect(throws: VsockSocketError.self) { _ = try VsockUnixBackend(path: side.path) }
        side.backend.close()
        #expect(access(side.path, F_OK) != 0)
    }

    @Test func connectLineParsing() {
        typealias L = VsockConnectLine
        #expect(L.parse(Array("CONNECT 52\n".utf8)) == .port(52))
        #expect(L.parse(Array("connect 4294967295\n".utf8)) == .port(UInt32.max))
        #expect(L.parse(Array("CoNnEcT 1\n".utf8)) == .port(1))
        for bad in ["CONNECT 52", "CONNECT\n", "CONNECT  52\n", "CONNECT 4294967296\n", "CONNECT -1\n",
                    "LISTEN 52\n", "CONNECT 5x\n", "CONNECT 000000000000000000052\n"] {
            #expect(L.parse(Array(bad.utf8)) == .invalid, "\(bad)")
        }
    }

    @Test func hostConnectsGetsOKAndBytesFlowBothWays() throws {
        let side = try VsockGuestSide()
        let client = try HostClient(connectingTo: side.path)
        try client.write("connect 52\n")
        let request = try side.receive { $0.contains { $0.header.op == P.Op.request.rawValue } }
        let hostPort = try #require(request.first { $0.header.op == P.Op.request.rawValue }).header.sourcePort
        #expect(hostPort >= 1 << 30)
        try side.send(side.header(.response, from: 52, to: hostPort))
        #expect(try client.readLine() == "OK \(hostPort)\n")
        try side.send(side.header(.readWrite, from: 52, to: hostPort, length: 4), payload: Array("ping".utf8))
        #expect(try client.read(exactly: 4) == Array("ping".utf8))
        try client.write("pong")
        let data = try side.receive { $0.contains { $0.header.op == P.Op.readWrite.rawValue } }
        #expect(data.first { $0.header.op == P.Op.readWrite.rawValue }?.payload == Array("pong".utf8))
    }

    @Test func aConnectLineThatNeverEndsIsDroppedAfterItsTimeout() throws {
        let side = try VsockGuestSide(connectLineTimeout: 200)
        let client = try HostClient(connectingTo: side.path)
        try client.write("CONNE")
        let start = TimerFD.now()
        #expect(try client.read(upTo: 16) == [])  // end-of-file: the VMM closed it
        #expect(TimerFD.now() - start >= 150)
        #expect(side.backend.pendingCount == 0)
        #expect(try side.takeReceived().isEmpty)
    }

    @Test func aMalformedConnectLineIsClosed() throws {
        let side = try VsockGuestSide()
        let client = try HostClient(connectingTo: side.path)
        try client.write("CONNECT fifty\n")
        #expect(try client.read(upTo: 16) == [])
        let long = try HostClient(connectingTo: side.path)
        try long.write(String(repeating: "x", count: 40))
        #expect(try long.read(upTo: 16) == [])
    }

    @Test func aGuestConnectionToANonListeningPortGetsRST() throws {
        let side = try VsockGuestSide()
        try side.send(side.header(.request, from: 1000, to: 9))
        let answer = try side.receive { !$0.isEmpty }
        #expect(answer.map(\.header.op) == [P.Op.reset.rawValue])
    }

    @Test func aGuestConnectionReachesTheListenerAtPathUnderscorePort() throws {
        let side = try VsockGuestSide()
        let listener = try HostListener(path: side.path + "_9")
        try side.send(side.header(.request, from: 1000, to: 9))
        let answer = try side.receive { !$0.isEmpty }
        #expect(answer.map(\.header.op) == [P.Op.response.rawValue])
        let host = try listener.accept()
        try side.send(side.header(.readWrite, from: 1000, to: 9, length: 3), payload: [7, 8, 9])
        #expect(try host.read(exactly: 3) == [7, 8, 9])
        // The host program closes: the guest hears SHUTDOWN, answers RST, all is gone.
        _ = host
        shutdown(host.fd, Int32(SHUT_RDWR))
        let shut = try side.receive { $0.contains { $0.header.op == P.Op.shutdown.rawValue } }
        #expect(shut.last?.header.flags == P.shutdownBoth)
        try side.send(side.header(.reset, from: 1000, to: 9))
        #expect(side.connectionCount == 0)
        #expect(side.backend.streamCount == 0)
    }

    /// A quarter megabyte each way at once on a host-initiated connection, the guest
    /// keeping to its credit and returning it as it reads, the host reader pausing a while.
    @Test func bulkBothWaysWithAPausingReader() throws {
        let size = 256 * 1024
        let side = try VsockGuestSide(bufferAllocation: 32 * 1024)
        let client = try HostClient(connectingTo: side.path)
        try client.write("CONNECT 77\n")
        let request = try side.receive { $0.contains { $0.header.op == P.Op.request.rawValue } }
        let hostPort = try #require(request.first).header.sourcePort
        let guestBuffer: UInt32 = 64 * 1024
        try side.send(side.header(.response, from: 77, to: hostPort, bufferAllocation: guestBuffer))
        #expect(try client.readLine() == "OK \(hostPort)\n")

        let toGuest = pattern(size, seed: 1), toHost = pattern(size, seed: 2)
        // The host writes from another thread (its socket fills while the guest waits).
        let writer = HostThread { [fd = client.fd] in
            var offset = 0
            while offset < toGuest.count {
                let count = toGuest[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, min($0.count, 8192), Int32(MSG_NOSIGNAL)) }
                if count <= 0 { return }
                offset += count
            }
        }
        #expect(writer.start())
        var received: [UInt8] = []
        var sent = 0
        var creditSeen: UInt32 = 0  // our fwd_cnt as the device last told us
        var readBack: [UInt8] = []
        var paused = false
        let deadline = TimerFD.now() + 30_000
        while (received.count < size || readBack.count < size) && TimerFD.now() < deadline {
            // Guest → host within the device's credit.
            let credit = 32 * 1024 - (sent - Int(creditSeen))
            if sent < size && credit > 0 {
                let chunk = min(4096, credit, size - sent)
                try side.send(side.header(.readWrite, from: 77, to: hostPort, length: UInt32(chunk), bufferAllocation: guestBuffer,
                                          forwardCount: UInt32(truncatingIfNeeded: received.count)),
                              payload: Array(toHost[sent..<(sent + chunk)]))
                sent += chunk
            }
            // Host → guest: take what came, give the credit back.
            var gotData = false
            for packet in try side.takeReceived() {
                if packet.header.destinationPort == 77 {
                    creditSeen = packet.header.forwardCount
                    if packet.header.op == P.Op.readWrite.rawValue {
                        received += packet.payload
                        gotData = true
                    }
                }
            }
            if gotData || received.count < size {
                try side.send(side.header(.creditUpdate, from: 77, to: hostPort, bufferAllocation: guestBuffer,
                                          forwardCount: UInt32(truncatingIfNeeded: received.count)))
            }
            // The host program reads, except for a pause half way.
            if !paused && readBack.count >= size / 2 {
                paused = true
                usleep(300_000)
            }
            var poller = pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 0) == 1 { readBack += try client.read(upTo: 65536) }
            if !gotData { usleep(200) }
        }
        writer.join()
        #expect(received.count == size)
        #expect(received == toGuest)
        #expect(readBack == toHost)
    }

    @Test func sixteenHostConnectionsAtOnce() throws {
        let side = try VsockGuestSide()
        var clients: [HostClient] = []
        for _ in 0..<16 {
            let client = try HostClient(connectingTo: side.path)
            try client.write("CONNECT 5\n")
            clients.append(client)
        }
        let requests = try side.receive { $0.filter { $0.header.op == P.Op.request.rawValue }.count == 16 }
        let ports = requests.filter { $0.header.op == P.Op.request.rawValue }.map(\.header.sourcePort)
        #expect(Set(ports).count == 16)
        for port in ports { try side.send(side.header(.response, from: 5, to: port)) }
        var greetings = Set<String>()
        for client in clients { greetings.insert(try client.readLine()) }
        #expect(greetings == Set(ports.map { "OK \($0)\n" }))
        #expect(side.connectionCount == 16)
    }

    @Test func theGuestNeverAnsweringClosesTheHostConnection() throws {
        let side = try VsockGuestSide()
        let client = try HostClient(connectingTo: side.path)
        try client.write("CONNECT 5\n")
        _ = try side.receive { !$0.isEmpty }
        let start = TimerFD.now()
        #expect(try client.read(upTo: 16) == [])  // closed without OK
        #expect(TimerFD.now() - start >= VirtioVsock.defaultConnectTimeout - 200)
        #expect(side.connectionCount == 0)
    }

    @Test func aDeviceResetClosesHostEndsAndTheListenerSurvives() throws {
        let side = try VsockGuestSide()
        let listener = try HostListener(path: side.path + "_9")
        try side.send(side.header(.request, from: 1000, to: 9))
        _ = try side.receive { !$0.isEmpty }
        let host = try listener.accept()
        side.resetDevice()
        #expect(try host.read(upTo: 4) == [])
        #expect(side.backend.streamCount == 0)
        // Still listening: a new host connection is taken (and, with no driver, closed).
        let client = try HostClient(connectingTo: side.path)
        try client.write("CONNECT 5\n")
        #expect(try client.read(upTo: 4) == [])
    }
}

@Suite struct VsockUnixBackendRebootTests {
    typealias P = VsockProtocol

    /// A guest reset builds a new device on the same backend: the last boot's host ends
    /// are closed, and the socket keeps listening.
    @Test func aNewBootClosesTheLastBootsStreamsAndKeepsListening() throws {
        let side = try VsockGuestSide()
        let client = try HostClient(connectingTo: side.path)
        try client.write("CONNECT 52\n")
        let request = try side.receive { !$0.isEmpty }
        let hostPort = try #require(request.first).header.sourcePort
        try side.send(side.header(.response, from: 52, to: hostPort))
        #expect(try client.readLine() == "OK \(hostPort)\n")
        #expect(side.backend.streamCount == 1)

        let nextBoot = try EventLoop()
        try side.backend.attach(loop: nextBoot) { _ in }
        #expect(try client.read(upTo: 4) == [])
        #expect(side.backend.streamCount == 0)
        #expect(access(side.path, F_OK) == 0)
        #expect((try? HostClient(connectingTo: side.path)) != nil)
    }
}
