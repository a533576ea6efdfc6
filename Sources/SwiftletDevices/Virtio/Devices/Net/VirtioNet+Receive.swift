/// The receive queue (virtio 1.2 section 5.1.6.3-4): packets from the backend go into
/// the driver's empty chains, header first. With VIRTIO_NET_F_MRG_RXBUF a packet spans as
/// many chains as it needs and the header's num_buffers says how many; without it, each
/// packet takes one chain and num_buffers is 1.
extension VirtioNet {
    enum Delivery { case delivered, dropped, noBuffers }

    /// Moves waiting packets to the guest until the backend has none, the guest has no
    /// buffers (then stops listening to the backend: the next receive kick resumes), or
    /// the budget is spent: `receiveBudget` packets, or a ring's worth of chains returned
    /// (the packet in hand is finished first). A backend with more waiting reports it
    /// again. Returns whether the driver wants an interrupt.
    func receivePackets() throws(VirtqueueError) -> Bool {
        guard let queue = receiveQueue else { return false }
        // Chains returned to the driver: each one lets it publish another, so this, not
        // the packet count, is what bounds a driver that refills the ring as we go.
        var returned = 0
        for _ in 0..<Self.receiveBudget where returned < Int(queue.size) {
            if packetLength == nil {
                guard let length = backend.receive(into: packet) else { break }
                guard length >= VirtioNetProtocol.headerSize, length <= packet.count else {
                    countDrop()
                    continue
                }
                packetLength = length
            }
            guard let length = packetLength else { break }
            switch try deliver(length, to: queue, returned: &returned) {
            case .delivered:
                packetLength = nil
            case .dropped:
                packetLength = nil
                countDrop()
            case .noBuffers:
                // Keep the packet; the queue's kicks are on (popChain left avail_event at
                // the next entry), so new buffers bring us back through process(queue: 0).
                setReceiving(false)
                return try queue.needsNotification()
            }
        }
        setReceiving(true)
        return try queue.needsNotification()
    }

    /// Puts the packet of `length` bytes (in `packet`) into the guest's chains; `returned`
    /// counts the chains given back to the driver.
    private func deliver(_ length: Int, to queue: Virtqueue, returned: inout Int) throws(VirtqueueError) -> Delivery {
        // Chains enough for the packet: one without mergeable buffers, as many as it
        // takes with them.
        var room = heldChains.reduce(0) { $0 + $1.writableLength }
        // An honest driver never offers a chain too small for a header, so a ring's worth
        // of pops is plenty for one packet; a driver that keeps refilling the ring with
        // useless chains (or whose used ring overlays its avail index) would otherwise
        // keep us here for as long as it likes.
        var pops = 0
        while heldChains.isEmpty || (mergeableBuffers && room < length) {
            if heldChains.count >= Int(queue.size) { return .dropped }  // larger than the whole ring
            if pops >= Int(queue.size) { return .dropped }
            guard let chain = try queue.popChain() else { return .noBuffers }
            pops += 1
            // A chain that cannot hold a header (or, later, any byte) is returned unused.
            let least = heldChains.isEmpty ? VirtioNetProtocol.headerSize : 1
            guard chain.writableLength >= least else {
                try queue.addUsed(chain, writtenLength: 0)
                returned += 1
                continue
            }
            heldChains.append(chain)
            room += chain.writableLength
        }
        // Without mergeable buffers a packet larger than its chain is lost; the chain
        // stays for the next one.
        guard room >= length else { return .dropped }

        var count = 0
        var covered = 0
        while covered < length {
            covered += heldChains[count].writableLength
            count += 1
        }
        packet.storeBytes(of: UInt16(count).littleEndian, toByteOffset: VirtioNetProtocol.numBuffersOffset, as: UInt16.self)
        var offset = 0
        for chain in heldChains.prefix(count) {
            var writer = ChainWriter(memory: queue.memory, chain: chain)
            let piece = min(writer.remaining, length - offset)
            try writer.write(UnsafeRawBufferPointer(rebasing: packet[offset..<(offset + piece)]))
            offset += piece
            try queue.addUsed(chain, writtenLength: UInt32(piece))
            returned += 1
        }
        heldChains.removeFirst(count)
        return .delivered
    }
}
