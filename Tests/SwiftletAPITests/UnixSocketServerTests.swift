#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import SwiftletAPI

/// The server on a real Unix socket, driven by a raw client written here (not our server
/// code): keep-alive, clients that vanish, the connection cap, the socket file's life.
@Suite struct UnixSocketServerTests {
    /// A client connection that reads with a deadline, so a broken server fails the test
    /// instead of hanging it.
    final class Client {
        let fd: Int32
        var pending: [UInt8] = []

        init?(path: String) {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (offset, byte) in path.utf8.enumerated() { raw[offset] = byte }
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if result != 0 {
                close(fd)
                return nil
            }
        }

        deinit { close(fd) }

        func send(_ text: String) {
            _ = Glibc.send(fd, text, text.utf8.count, Int32(MSG_NOSIGNAL))
        }

        /// Bytes until `done` says the buffer holds a whole answer, EOF, or 5 s pass.
        private func read(until done: ([UInt8]) -> Int?) -> [UInt8]? {
            while true {
                if let length = done(pending) {
                    let answer = Array(pending[0..<length])
                    pending.removeFirst(length)
                    return answer
                }
                var polled = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&polled, 1, 5_000) == 1 else { return nil }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let count = recv(fd, &chunk, chunk.count, 0)
                guard count > 0 else { return pending.isEmpty ? nil : pending }
                pending += chunk[0..<count]
            }
        }

        /// One response: status and body (framed by Content-Length; none for 204 and 100).
        func response() -> (status: Int, body: String)? {
            guard let bytes = read(until: { buffer in
                guard let end = buffer.indices.first(where: { buffer[$0...].starts(with: [13, 10, 13, 10]) }) else { return nil }
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst(15).trimmingPrefix(" ")) } ?? 0
                return buffer.count >= end + 4 + length ? end + 4 + length : nil
            }) else { return nil }
            let text = String(decoding: bytes, as: UTF8.self)
            let parts = text.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
            let body = text.split(separator: "\r\n\r\n", maxSplits: 1, omittingEmptySubsequences: false).last.map(String.init) ?? ""
            return (status, body)
        }

        /// True once the server has closed the connection (read returns 0).
        func isClosed() -> Bool {
            var polled = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&polled, 1, 5_000) == 1 else { return false }
            var byte: UInt8 = 0
            return recv(fd, &byte, 1, 0) == 0
        }
    }

    func socketPath(_ scratch: Scratch) -> String { scratch.directory + "/api.sock" }

    func server(_ scratch: Scratch, maximumConnections: Int = 4, maximumBody: Int = 51_200) throws -> (UnixSocketServer, FirecrackerAPI) {
        let api = FirecrackerAPI(controller: FakeVMController())
        let server = try UnixSocketServer(path: socketPath(scratch), maximumConnections: maximumConnections,
                                          maximumBody: maximumBody, handler: api.handle)
        try server.start()
        return (server, api)
    }

    @Test func keepAliveServesTwoRequestsOnOneConnection() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (server, api) = try server(scratch)
        defer { server.stop() }
        let client = try #require(Client(path: socketPath(scratch)))
        client.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let info = try #require(client.response())
        #expect(info.status == 200)
        #expect(info.body.contains(#""state":"Not started""#))
        let body = #"{"vcpu_count": 3, "mem_size_mib": 64}"#
        client.send("PUT /machine-config HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let put = try #require(client.response())
        #expect(put.status == 204)
        #expect(put.body.isEmpty)
        #expect(api.spec.machine.vcpuCount == 3)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (server, _) = try server(scratch)
        defer { server.stop() }
        let client = try #require(Client(path: socketPath(scratch)))
        client.send("GET /version HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(client.response()?.body.contains("firecracker_version") == true)
        #expect(client.response()?.status == 400)
        #expect(client.response()?.body.contains("app_name") == true)
        #expect(client.isClosed())
    }

    @Test func aClientThatVanishesMidRequestLeavesTheOthersServed() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (server, api) = try server(scratch)
        defer { server.stop() }
        do {
            let quitter = try #require(Client(path: socketPath(scratch)))
            quitter.send("PUT /machine-config HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"vcpu_count\": 5")
        }  // closed here, its request half sent
        let lingerer = try #require(Client(path: socketPath(scratch)))
        lingerer.send("PUT /machine-config HTTP/1.1\r\nContent-Le")
        let other = try #require(Client(path: socketPath(scratch)))
        other.send("GET / HTTP/1.1\r\n\r\n")
        #expect(other.response()?.status == 200)
        #expect(api.spec.machine.vcpuCount == 1)
        // The lingerer can still finish its request.
        let body = #"{"vcpu_count": 2, "mem_size_mib": 64}"#
        lingerer.send("ngth: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(lingerer.response()?.status == 204)
        #expect(api.spec.machine.vcpuCount == 2)
    }

    @Test func connectionsBeyondTheCapAreTurnedAway() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (server, _) = try server(scratch, maximumConnections: 2)
        defer { server.stop() }
        var first = Client(path: socketPath(scratch))
        let second = try #require(Client(path: socketPath(scratch)))
        for client in [first, second] {
            client?.send("GET / HTTP/1.1\r\n\r\n")
            #expect(client?.response()?.status == 200)
        }
        let third = try #require(Client(path: socketPath(scratch)))
        let refusal = try #require(third.response())
        #expect(refusal.status == 503)
        #expect(refusal.body.contains("too many API connections"))
        #expect(third.isClosed())
        // A slot freed is a slot for the next client.
        first = nil
        let fourth = try #require(Client(path: socketPath(scratch)))
        fourth.send("GET / HTTP/1.1\r\n\r\n")
        #expect(fourth.response()?.status == 200)
        #expect(first == nil)
    }

    @Test func oversizedBodiesAre413AndMalformedRequests400() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (server, _) = try server(scratch, maximumBody: 10)
        defer { server.stop() }
        let big = try #require(Client(path: socketPath(scratch)))
        big.send("PUT /machine-config HTTP/1.1\r\nContent-Length: 11\r\n\r\n")
        let response = try #require(big.response())
        #expect(response.status == 413)
        #expect(big.isClosed())
        let garbage = try #require(Client(path: socketPath(scratch)))
        garbage.send("HELLO\r\n\r\n")
        #expect(garbage.response()?.status == 400)
        #expect(garbage.isClosed())
    }

    @Test func expectContinueIsAnswered() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let (server, _) = try server(scratch)
        defer { server.stop() }
        let client = try #require(Client(path: socketPath(scratch)))
        let body = #"{"vcpu_count": 2, "mem_size_mib": 64}"#
        client.send("PUT /machine-config HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        #expect(client.response()?.status == 100)
        client.send(body)
        #expect(client.response()?.status == 204)
    }

    @Test func anExistingSocketPathIsRefusedAndOursIsRemovedAtStop() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = socketPath(scratch)
        let stale = open(path, O_CREAT | O_WRONLY, 0o600)
        close(stale)
        let blocked = try UnixSocketServer(path: path) { _ in .noContent }
        #expect(throws: APIServerError.self) { try blocked.start() }
        do {
            try blocked.start()
        } catch {
            #expect(error.description.contains("\(path) already exists"))
            #expect(error.description.contains("stale socket"))
        }
        var info = stat()
        #expect(lstat(path, &info) == 0, "a refused start must not remove what was there")
        unlink(path)

        let (server, _) = try server(scratch)
        #expect(lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK)
        // A second server on the same path: refused, and the first keeps serving.
        let second = try UnixSocketServer(path: path) { _ in .noContent }
        #expect(throws: APIServerError.self) { try second.start() }
        let client = try #require(Client(path: path))
        client.send("GET / HTTP/1.1\r\n\r\n")
        #expect(client.response()?.status == 200)
        server.stop()
        #expect(lstat(path, &info) != 0, "the socket file outlived the server")
        #expect(Client(path: path) == nil)
    }
}
