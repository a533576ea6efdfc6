/// What the backend reports, on the event loop under the device's lock. Each returns
/// whether the driver wants an interrupt on the receive queue.
extension VirtioVsock {
    /// A host program asked (`CONNECT <port>`) for guest port `guestPort` on `stream`.
    /// The device sends REQUEST under a fresh host port and owns the stream from here:
    /// it closes it itself if the guest is not running, the cap is reached, or no answer
    /// comes in time. Once the guest answers, the host program reads `OK <host port>\n`.
    public func hostConnect(_ stream: VsockStreamID, toGuestPort guestPort: UInt32) throws(VirtqueueError) -> Bool {
        guard isActive, connections.count < maxConnections, let hostPort = allocateHostPort() else {
            trace?("host CONNECT \(guestPort) refused: \(isActive ? "at the connection cap" : "the driver is not running")")
            backend.close(stream)
            return false
        }
        let key = VsockConnectionKey(guestPort: guestPort, hostPort: hostPort)
        trace?("\(key): host CONNECT, REQUEST to the guest")
        add(VsockConnection(key: key, stream: stream, state: .connecting(deadline: clock() &+ connectTimeout)))
        noteDeadlines()
        queueControl(key, .request)
        return try deliver()
    }

    /// `stream` has bytes for the guest (or ended).
    public func streamReadable(_ stream: VsockStreamID) throws(VirtqueueError) -> Bool {
        guard let key = streams[stream], let connection = connections[key] else { return false }
        connection.hostReadable = true
        updateWatch(connection)
        if !readable.contains(key) { readable.append(key) }
        return try deliver()
    }

    /// `stream` takes bytes again.
    public func streamWritable(_ stream: VsockStreamID) throws(VirtqueueError) -> Bool {
        guard let key = streams[stream], let connection = connections[key] else { return false }
        flushToHost(connection)
        return try deliver()
    }

    /// Ends connections whose deadline passed: host-initiated ones the guest never
    /// answered, closing ones whose RST (or host read) never came. Both get an RST.
    public func expire() throws(VirtqueueError) -> Bool {
        let now = clock()
        for connection in connections.values {
            if let deadline = connection.deadline, deadline <= now {
                resetConnection(connection, isConnecting(connection) ? "the guest never answered" : "never closed")
            }
        }
        noteDeadlines()
        return try deliver()
    }

    /// Connections open now (for --verbose and tests).
    public var connectionCount: Int { connections.count }
    public var connectionKeys: [VsockConnectionKey] { Array(connections.keys) }
}
