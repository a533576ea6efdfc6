import SwiftletMemory

/// The receive queue (virtio 1.2 section 5.10.6.2): the device's packets to the guest,
/// one per chain, header first. Control packets (answers, credit, RST) go before data,
/// and data is read from a host stream straight into the chain, as much as the guest's
/// credit and the chain allow.
extension VirtioVsock {
    /// Moves what waits to the guest until nothing does, the guest has no buffers (its
    /// next receive kick resumes), or a ring's worth of chains went back (then the backend
    /// is asked to call again). Returns whether the driver wants an interrupt.
    func deliver() throws(VirtqueueError) -> Bool {
        guard let queue = receiveQueue else { return false }
        var returned = 0
        while returned < Int(queue.size) {
            if controlHead < control.count {
                guard let chain = try takeChain(queue, returned: &returned) else { break }
                let (key, op, flags) = control[controlHead]
                controlHead += 1
                guard let header = controlHeader(key, op, flags) else {
                    heldChain = chain
                    continue
                }
                var writer = ChainWriter(memory: queue.memory, chain: chain)
                try writer.write(bytes: header.bytes)
                try queue.addUsed(chain, writtenLength: writer.usedLength)
                returned += 1
                continue
            }
            guard !readable.isEmpty else { break }
            let key = readable.removeFirst()
            guard let connection = connections[key], connection.hostReadable, connection.readsHost else { continue }
            guard connection.peerCredit > 0 else {
                // Out of credit: the host stream stays unread (and unwatched) until the
                // guest's next header brings some; ask once in case it forgot.
                if !connection.creditRequested {
                    connection.creditRequested = true
                    queueControl(key, .creditRequest)
                }
                continue
            }
            guard let chain = try takeChain(queue, returned: &returned) else {
                readable.insert(key, at: 0)
                break
            }
            if try sendData(connection, in: chain, queue: queue) {
                returned += 1
                readable.append(key)
            } else {
                heldChain = chain
            }
        }
        if hasPendingDelivery, returned >= Int(queue.size) { backend.scheduleDelivery() }
        return try queue.needsNotification()
    }

    /// Entry point for the backend's scheduled call.
    public func deliverPending() throws(VirtqueueError) -> Bool { try deliver() }

    /// The next receive chain with room for a header; chains too small are returned unused.
    private func takeChain(_ queue: Virtqueue, returned: inout Int) throws(VirtqueueError) -> DescriptorChain? {
        if let chain = heldChain {
            heldChain = nil
            return chain
        }
        while returned < Int(queue.size) {
            guard let chain = try queue.popChain() else { return nil }
            if chain.writableLength >= VsockProtocol.headerSize { return chain }
            try queue.addUsed(chain, writtenLength: 0)
            returned += 1
        }
        return nil
    }

    /// The header of a control packet, credit fields as of now; nil when the connection
    /// it was for is gone (an RST goes out regardless).
    private func controlHeader(_ key: VsockConnectionKey, _ op: Op, _ flags: UInt32) -> VsockHeader? {
        var header = VsockHeader(
            sourceCID: VsockProtocol.hostCID, destinationCID: guestCID, sourcePort: key.hostPort,
            destinationPort: key.guestPort, op: op.rawValue, flags: flags)
        if let connection = connections[key] {
            stampCredit(&header, connection)
            if op == .creditUpdate { connection.creditUpdateQueued = false }
        } else if op != .reset {
            return nil
        }
        return header
    }

    private func stampCredit(_ header: inout VsockHeader, _ connection: VsockConnection) {
        header.bufferAllocation = bufferAllocation
        header.forwardCount = connection.forwarded
        connection.advertisedForwarded = connection.forwarded
    }

    /// Reads from the connection's host stream into `chain` behind a header. False when
    /// nothing was sent (the stream is dry, now watched, or ended: SHUTDOWN queued).
    private func sendData(_ connection: VsockConnection, in chain: DescriptorChain, queue: Virtqueue) throws(VirtqueueError) -> Bool {
        var writer = ChainWriter(memory: queue.memory, chain: chain)
        var header = VsockHeader(
            sourceCID: VsockProtocol.hostCID, destinationCID: guestCID, sourcePort: connection.key.hostPort,
            destinationPort: connection.key.guestPort, op: Op.readWrite.rawValue)
        // The header's place first, its length filled in once we know it.
        try writer.write(bytes: header.bytes)
        let room = min(writer.remaining, Int(connection.peerCredit), VsockProtocol.maxPayload)
        var result = VsockRead.wouldBlock
        if room > 0 {
            do {
                try writer.withIOVectors(count: room) { buffers in
                    result = backend.read(connection.stream, into: buffers)
                    if case .bytes(let count) = result { return min(count, room) }
                    return 0
                }
            } catch let error as VirtqueueError {
                throw error
            } catch let error as GuestMemoryError {
                throw .memory(error)
            } catch {
                result = .end
            }
        }
        switch result {
        case .bytes(let count):
            let count = UInt32(min(count, room))
            header.length = count
            stampCredit(&header, connection)
            var start = ChainWriter(memory: queue.memory, chain: chain)
            try start.write(bytes: header.bytes)
            connection.sent &+= count
            try queue.addUsed(chain, writtenLength: writer.usedLength)
            return true
        case .wouldBlock:
            connection.hostReadable = false
            updateWatch(connection)
            return false
        case .end:
            hostEnded(connection)
            return false
        }
    }

    /// The host program closed its end: every byte it sent has gone to the guest, so say
    /// SHUTDOWN both ways (the guest answers RST once it has read them) and wait.
    func hostEnded(_ connection: VsockConnection) {
        connection.hostEnded = true
        connection.hostReadable = false
        readable.removeAll { $0 == connection.key }
        if connection.isEstablished {
            connection.state = .closing(deadline: clock() &+ closeTimeout)
            noteDeadlines()
        }
        updateWatch(connection)
        queueControl(connection.key, .shutdown, flags: VsockProtocol.shutdownBoth)
    }

    // MARK: The event queue

    /// Queues VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (5.10.6.7): the guest drops every
    /// connection and reads guest_cid again, as after a snapshot is restored. Ours go
    /// too (their host ends are closed); the backend's listeners stay. Returns whether
    /// the driver wants an interrupt on the event queue.
    public func signalTransportReset() throws(VirtqueueError) -> Bool {
        let rx = receiveQueue, tx = transmitQueue, events = eventQueue
        dropEverything()
        receiveQueue = rx
        transmitQueue = tx
        eventQueue = events
        eventPending = true
        return try deliverEvent()
    }

    func deliverEvent() throws(VirtqueueError) -> Bool {
        guard let queue = eventQueue, eventPending else { return false }
        for _ in 0..<Int(queue.size) {
            guard let chain = try queue.popChain() else { break }
            var writer = ChainWriter(memory: queue.memory, chain: chain)
            guard writer.remaining >= VsockProtocol.eventSize else {
                try queue.addUsed(chain, writtenLength: 0)
                continue
            }
            try writer.writeObject(VsockProtocol.eventTransportReset.littleEndian)
            try queue.addUsed(chain, writtenLength: writer.usedLength)
            eventPending = false
            break
        }
        return try queue.needsNotification()
    }
}
