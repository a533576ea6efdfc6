import SwiftletMemory

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

    /// RW payload for the host program: straight from guest memory when nothing waits
    /// before it, the rest kept (within the credit we gave) until the host takes it.
    func receiveData(_ length: UInt32, from reader: inout ChainReader, for connection: VsockConnection) throws(VirtqueueError) {
        // Data after the guest said it sends no more, or before the connection exists.
        guard connection.guestShutdown & VsockProtocol.shutdownSend == 0, !isConnecting(connection) else {
            resetConnection(connection, "RW after SHUTDOWN or before RESPONSE")
            return
        }
        // Credit (5.10.6.3): the guest may have buf_alloc - (tx_cnt - fwd_cnt) in flight,
        // counted from the fwd_cnt it saw; more is a lie, and it loses the connection.
        let inFlight = connection.received &- connection.advertisedForwarded
        guard inFlight <= bufferAllocation, length <= bufferAllocation - inFlight else {
            resetConnection(connection, "RW of \(length) bytes past its credit")
            return
        }
        guard length > 0 else { return }
        connection.received &+= length
        var written = 0
        if connection.hostBound.isEmpty {
            do {
                written = try reader.withIOVectors(count: Int(length)) { buffers in
                    backend.write(connection.stream, from: buffers.map { UnsafeRawBufferPointer($0) }) ?? -1
                }
            } catch let error as VirtqueueError {
                // -1 (the host end is gone) comes back as transferCountInvalid.
                if case .transferCountInvalid = error {
                    resetConnection(connection, "the host end is gone")
                    return
                }
                throw error
            } catch let error as GuestMemoryError {
                throw .memory(error)
            } catch {
                resetConnection(connection, "the host end is gone")
                return
            }
            connection.forwarded &+= UInt32(written)
        }
        if written < Int(length) {
            connection.hostBound.append(try reader.readBytes(count: Int(length) - written))
            updateWatch(connection)
        }
        creditFreed(connection)
    }

    /// The guest's SHUTDOWN: it receives no more (stop reading the host), sends no more
    /// (the host reads end-of-file once its bytes are through), or both (then we finish
    /// the host's bytes and answer RST, which the guest waits for, 5.10.6.6).
    func guestShutdown(_ flags: UInt32, _ connection: VsockConnection) {
        connection.guestShutdown |= flags
        if connection.guestShutdown == VsockProtocol.shutdownBoth, connection.isEstablished {
            connection.state = .closing(deadline: clock() &+ closeTimeout)
            noteDeadlines()
        }
        updateWatch(connection)
        settle(connection)
    }

    /// Ends the connection once nothing more can move: the guest closed both ways and its
    /// bytes reached the host. Passes the guest's end-of-file on when its bytes are through.
    func settle(_ connection: VsockConnection) {
        guard connection.hostBound.isEmpty, connections[connection.key] === connection else { return }
        if connection.guestShutdown & VsockProtocol.shutdownSend != 0, !connection.hostWriteShut {
            connection.hostWriteShut = true
            backend.shutdownWrite(connection.stream)
        }
        if connection.guestShutdown == VsockProtocol.shutdownBoth {
            resetConnection(connection, "closed by the guest")
        }
    }

    /// Writes waiting bytes to the host program; drops the connection if it is gone.
    func flushToHost(_ connection: VsockConnection) {
        while !connection.hostBound.isEmpty {
            var gone = false
            let taken = connection.hostBound.drain { bytes in
                guard let count = backend.write(connection.stream, from: [bytes]) else {
                    gone = true
                    return 0
                }
                return count
            }
            if gone {
                resetConnection(connection, "the host end is gone")
                return
            }
            if taken == 0 { break }
            let greeting = min(taken, connection.greeting)
            connection.greeting -= greeting
            connection.forwarded &+= UInt32(taken - greeting)
        }
        updateWatch(connection)
        creditFreed(connection)
        settle(connection)
    }

    /// Tells the guest of freed buffer once half of it is unannounced: often enough that a
    /// guest out of credit always hears (what it has in flight is then either still here,
    /// and will be forwarded, or forwarded and unannounced), rarely enough to cost little.
    func creditFreed(_ connection: VsockConnection) {
        guard connection.forwarded &- connection.advertisedForwarded >= bufferAllocation / 2 else { return }
        queueCreditUpdate(connection)
    }

    func queueCreditUpdate(_ connection: VsockConnection) {
        guard !connection.creditUpdateQueued else { return }
        connection.creditUpdateQueued = true
        queueControl(connection.key, .creditUpdate)
    }

    func queueReset(_ key: VsockConnectionKey) {
        resetsSent += 1
        queueControl(key, .reset)
    }

    /// Queues a packet without payload. Past the limit (a guest that floods us and gives
    /// no receive buffers) it is dropped, and a connection it was for goes with it.
    func queueControl(_ key: VsockConnectionKey, _ op: Op, flags: UInt32 = 0) {
        if controlHead > 0 && controlHead >= control.count / 2 {
            control.removeFirst(controlHead)
            controlHead = 0
        }
        guard control.count - controlHead < Self.controlLimit else {
            droppedPackets += 1
            if op != .reset, let connection = connections[key] { remove(connection) }
            return
        }
        control.append((key, op, flags))
    }
}
