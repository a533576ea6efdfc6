/// The transmit queue (virtio 1.2 section 5.10.6.2): each chain is one packet from the
/// guest, header first, then `len` payload bytes for RW. Answers go to the control list
/// and reach the guest through the receive queue, which the backend is asked to serve.
extension VirtioVsock {
    typealias Op = VsockProtocol.Op

    func transmit() throws(VirtqueueError) -> Bool {
        guard let queue = transmitQueue else { return false }
        let notify = try queue.serviceAvailable { (chain) throws(VirtqueueError) in
            var reader = ChainReader(memory: queue.memory, chain: chain)
            try handlePacket(&reader)
            return 0  // the device writes nothing into a transmit chain
        }
        if hasPendingDelivery { backend.scheduleDelivery() }
        return notify
    }

    /// Whether the receive queue has work no guest kick would bring.
    var hasPendingDelivery: Bool { controlHead < control.count || !readable.isEmpty }

    /// Checks one packet field by field and acts on it.
    func handlePacket(_ reader: inout ChainReader) throws(VirtqueueError) {
        // Without a whole header there is nobody to answer.
        guard reader.remaining >= VsockProtocol.headerSize,
            let header = VsockHeader(bytes: try reader.readBytes(count: VsockProtocol.headerSize))
        else {
            droppedPackets += 1
            return
        }
        // A packet claiming another source is no one's to answer.
        guard header.sourceCID == guestCID else {
            droppedPackets += 1
            return
        }
        let key = VsockConnectionKey(guestPort: header.sourcePort, hostPort: header.destinationPort)
        let op = Op(rawValue: header.op)
        // Never answer an RST with an RST (5.10.6.6), however malformed: two devices
        // (or a guest replaying our RSTs) would otherwise ping-pong forever.
        if op == .reset {
            if let connection = connections[key] {
                trace?("\(key): RST from the guest")
                remove(connection)
            }
            droppedPackets += 1
            return
        }
        guard header.destinationCID == VsockProtocol.hostCID, header.type == VsockProtocol.typeStream, let op,
            header.length <= VsockProtocol.maxPayload, Int(header.length) <= reader.remaining,
            op == .readWrite || header.length == 0
        else {
            rejectPacket(key, "malformed header (dst_cid \(header.destinationCID), type \(header.type), op \(header.op), len \(header.length))")
            return
        }
        if op == .request {
            acceptGuestRequest(key, header)
            return
        }
        guard let connection = connections[key] else {
            trace?("\(key): RST to the guest: \(op) for no connection")
            queueReset(key)
            return
        }
        guard takeCredit(header, for: connection) else {
            resetConnection(connection, "fwd_cnt \(header.forwardCount) claims more than was sent")
            return
        }
        switch op {
        case .request, .reset:
            return  // handled above
        case .response:
            guard case .connecting = connection.state else {
                resetConnection(connection, "RESPONSE on an open connection")
                return
            }
            trace?("\(key): the guest accepted; OK to the host")
            connection.state = .established
            let greeting = Array("OK \(connection.key.hostPort)\n".utf8)
            connection.hostBound.append(greeting)
            connection.greeting = greeting.count
            noteDeadlines()
            if connection.hostReadable && !readable.contains(connection.key) { readable.append(connection.key) }
            flushToHost(connection)
        case .readWrite:
            try receiveData(header.length, from: &reader, for: connection)
        case .shutdown:
            guard !isConnecting(connection) else {
                resetConnection(connection, "SHUTDOWN before RESPONSE")
                return
            }
            guestShutdown(header.flags & VsockProtocol.shutdownBoth, connection)
        case .creditUpdate:
            break  // takeCredit did it
        case .creditRequest:
            queueCreditUpdate(connection)
        }
    }

    func isConnecting(_ connection: VsockConnection) -> Bool {
        if case .connecting = connection.state { return true }
        return false
    }

    /// A packet we cannot accept: RST it, dropping the connection it named if any.
    func rejectPacket(_ key: VsockConnectionKey, _ why: String) {
        if let connection = connections[key] {
            resetConnection(connection, why)
        } else {
            trace?("\(key): RST to the guest: \(why)")
            queueReset(key)
        }
    }

    /// A guest-initiated connection to host port `destinationPort`: the backend connects
    /// to whoever listens there; RST if nobody does, if the pair is taken, or at the cap.
    func acceptGuestRequest(_ key: VsockConnectionKey, _ header: VsockHeader) {
        if let existing = connections[key] {
            resetConnection(existing, "REQUEST for an open connection")
            return
        }
        // A fresh connection has had nothing sent, so its fwd_cnt must be 0.
        guard header.forwardCount == 0, connections.count < maxConnections else {
            trace?("\(key): RST to the guest's REQUEST: \(header.forwardCount != 0 ? "fwd_cnt not 0" : "at the connection cap")")
            queueReset(key)
            return
        }
        guard let stream = backend.connect(toPort: key.hostPort) else {
            trace?("\(key): RST to the guest's REQUEST: nobody listens on host port \(key.hostPort)")
            queueReset(key)
            return
        }
        trace?("\(key): the guest connected")
        let connection = VsockConnection(key: key, stream: stream, state: .established)
        connection.peerBufferAllocation = header.bufferAllocation
        add(connection)
        queueControl(key, .response)
    }

    /// Takes the guest's buf_alloc and fwd_cnt. False when fwd_cnt claims more consumed
    /// than we ever sent (or moves backwards): a credit lie.
    func takeCredit(_ header: VsockHeader, for connection: VsockConnection) -> Bool {
        let advance = header.forwardCount &- connection.peerForwarded
        guard advance <= connection.sent &- connection.peerForwarded else { return false }
        let hadCredit = connection.peerCredit > 0
        connection.peerForwarded = header.forwardCount
        connection.peerBufferAllocation = header.bufferAllocation
        if connection.peerCredit > 0 {
            connection.creditRequested = false
            if !hadCredit && connection.hostReadable && !readable.contains(connection.key) {
                readable.append(connection.key)
            }
        }
        return true
    }
}
