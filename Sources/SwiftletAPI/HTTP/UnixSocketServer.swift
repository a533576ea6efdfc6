#if canImport(Glibc)
import Glibc
#endif
import SwiftletHost

/// Why the API server could not start, as one line.
public struct APIServerError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// HTTP/1.1 on a Unix socket, served by one thread of its own that polls non-blocking
/// sockets: several clients at once (Firecracker's SDKs keep one connection alive while a
/// tool pokes with curl), at most `maximumConnections` of them. Requests are handled one at
/// a time, in order, which is what makes the API's state changes atomic without more locks.
/// A client that vanishes mid-request costs only its own connection.
public final class UnixSocketServer: @unchecked Sendable {
    // @unchecked: `listener`, `thread` and `bound` are set by `start` and read by `stop`,
    // which the owner calls in that order from one thread; the loop's state lives on the
    // server thread only.
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    /// Firecracker's micro_http serves ten connections at most; so do we.
    public static let defaultMaximumConnections = 10

    public let path: String
    public let maximumConnections: Int
    public let maximumBody: Int
    private let handler: Handler
    private let wake: EventFD
    private var listener: Int32 = -1
    private var thread: ServerThread?
    private var bound = false

    public init(path: String, maximumConnections: Int = defaultMaximumConnections,
                maximumBody: Int = HTTPRequestParser.defaultMaximumBody, handler: @escaping Handler) throws(APIServerError) {
        self.path = path
        self.maximumConnections = max(1, maximumConnections)
        self.maximumBody = maximumBody
        self.handler = handler
        do { wake = try EventFD() } catch { throw APIServerError("cannot make the API server's wake-up eventfd: \(error)") }
    }

    /// Binds the socket and starts serving. The path must not exist: binding over a file
    /// would take a live VMM's socket from under it, and a stale one is the user's to remove.
    public func start() throws(APIServerError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !path.isEmpty, path.utf8.count < capacity else {
            throw APIServerError("--api-sock: '\(path)' is not a usable socket path (1 to \(capacity - 1) bytes)")
        }
        var existing = stat()
        if lstat(path, &existing) == 0 { throw Self.alreadyExists(path) }
        // SAFETY: the path fits sun_path with its terminating zero (checked above), and
        // `withUnsafeMutableBytes` bounds the copy to the tuple's own storage.
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (offset, byte) in path.utf8.enumerated() { raw[offset] = byte }
            raw[path.utf8.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw APIServerError("--api-sock: socket failed: \(String(cString: strerror(errno)))") }
        // SAFETY: `address` is a complete sockaddr_un and the length says so.
        let bindResult = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bindResult == 0 else {
            let error = errno
            close(fd)
            if error == EADDRINUSE { throw Self.alreadyExists(path) }
            throw APIServerError("--api-sock: cannot bind \(path): \(String(cString: strerror(error)))")
        }
        bound = true
        guard listen(fd, 16) == 0 else {
            let error = errno
            close(fd)
            unlinkSocket()
            throw APIServerError("--api-sock: cannot listen on \(path): \(String(cString: strerror(error)))")
        }
        listener = fd
        let loop = ServerThread { [self] in serve() }
        guard loop.start() else {
            close(fd)
            listener = -1
            unlinkSocket()
            throw APIServerError("cannot start the API server's thread")
        }
        thread = loop
    }

    private static func alreadyExists(_ path: String) -> APIServerError {
        APIServerError("--api-sock: \(path) already exists; if no VMM serves it, it is a stale socket left by one that ended: remove it and try again")
    }

    /// Stops serving, closes every connection and removes the socket file. Safe to call
    /// more than once.
    public func stop() {
        guard let running = thread else {
            unlinkSocket()
            return
        }
        thread = nil
        wake.signal()
        running.join()
        close(listener)
        listener = -1
        unlinkSocket()
    }

    private func unlinkSocket() {
        guard bound else { return }
        bound = false
        unlink(path)
    }

    // MARK: the server thread

    private final class Connection {
        let fd: Int32
        var input: [UInt8] = []
        var output: [UInt8] = []
        var closeWhenWritten = false
        var sentContinue = false
        init(fd: Int32) { self.fd = fd }
    }

    private func serve() {
        var connections: [Connection] = []
        defer { for connection in connections { close(connection.fd) } }
        while true {
            var polled = [pollfd(fd: wake.descriptor, events: Int16(POLLIN), revents: 0),
                          pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            for connection in connections {
                polled.append(pollfd(fd: connection.fd, events: Int16(connection.output.isEmpty ? POLLIN : POLLOUT), revents: 0))
            }
            let ready = poll(&polled, nfds_t(polled.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if polled[0].revents != 0 { return }
            var finished = Set<Int32>()
            for (offset, connection) in connections.enumerated() {
                let events = polled[offset + 2].revents
                guard events != 0 else { continue }
                if !service(connection, events: events) { finished.insert(connection.fd) }
            }
            if !finished.isEmpty {
                connections.removeAll { connection in
                    guard finished.contains(connection.fd) else { return false }
                    close(connection.fd)
                    return true
                }
            }
            if polled[1].revents & Int16(POLLIN) != 0 { acceptAll(into: &connections) }
        }
    }

    private func acceptAll(into connections: inout [Connection]) {
        while true {
            // (Glibc's module hides accept4, a GNU extension: accept, then set the flags.)
            let fd = accept(listener, nil, nil)
            if fd < 0 { return }  // EAGAIN: all taken; anything else: the client is gone already
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if connections.count >= maximumConnections {
                // One best-effort line so the client knows why, rather than a silent hang-up.
                let refusal = HTTPResponse.fault(503, "too many API connections (at most \(maximumConnections))", closesConnection: true)
                    .serialized(keepAlive: false)
                _ = send(fd, refusal, refusal.count, Int32(MSG_NOSIGNAL))
                close(fd)
                continue
            }
            connections.append(Connection(fd: fd))
        }
    }

    /// Reads, answers and writes what `events` allow; false once the connection is over.
    private func service(_ connection: Connection, events: Int16) -> Bool {
        if events & Int16(POLLOUT) != 0 || !connection.output.isEmpty {
            guard flush(connection) else { return false }
            return !(connection.output.isEmpty && connection.closeWhenWritten)
        }
        guard events & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { return true }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = recv(connection.fd, &chunk, chunk.count, 0)
        if count == 0 { return false }  // the client hung up, maybe mid-request: forget it
        if count < 0 { return errno == EAGAIN || errno == EINTR }
        guard !connection.closeWhenWritten else { return true }
        connection.input.append(contentsOf: chunk[0..<count])
        answer(connection)
        guard flush(connection) else { return false }
        return !(connection.output.isEmpty && connection.closeWhenWritten)
    }

    /// Handles every whole request in the input, in order.
    private func answer(_ connection: Connection) {
        while !connection.closeWhenWritten {
            switch HTTPRequestParser.parse(connection.input[...], maximumBody: maximumBody) {
            case .incomplete(let expectsContinue):
                if expectsContinue && !connection.sentContinue {
                    connection.output += Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
                    connection.sentContinue = true
                }
                return
            case .request(let request, let consumed):
                connection.input.removeFirst(consumed)
                connection.sentContinue = false
                let response = handler(request)
                connection.output += response.serialized(keepAlive: request.keepAlive)
                connection.closeWhenWritten = !request.keepAlive || response.closesConnection
            case .invalid(let response):
                connection.input.removeAll()
                connection.output += response.serialized(keepAlive: false)
                connection.closeWhenWritten = true
            }
        }
    }

    /// Writes what the socket takes now; false if the client is gone.
    private func flush(_ connection: Connection) -> Bool {
        while !connection.output.isEmpty {
            let written = send(connection.fd, connection.output, connection.output.count, Int32(MSG_NOSIGNAL))
            if written < 0 { return errno == EAGAIN || errno == EINTR }
            connection.output.removeFirst(written)
        }
        return true
    }
}
