import SwiftletMemory

/// Guest bytes on their way to the host program, and the credit they cost (virtio 1.2
/// section 5.10.6.3): what the host does not take at once waits here, never more than
/// the buf_alloc we gave the guest, and the guest hears of freed room as it goes.
extension VirtioVsock {
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
}
