import SwiftletMemory

/// The transmit queue (virtio 1.2 section 5.1.6.2): each chain is one packet, header
/// first; it goes to the backend as it is, from guest memory, in one writev.
extension VirtioNet {
    /// Sends every chain the driver queued (one kick, one batch); returns whether the
    /// driver wants an interrupt for the chains returned.
    func transmitPackets() throws(VirtqueueError) -> Bool {
        guard let queue = transmitQueue else { return false }
        return try queue.serviceAvailable { (chain) throws(VirtqueueError) in
            var reader = ChainReader(memory: queue.memory, chain: chain)
            let length = reader.remaining
            // A chain without a whole header is no packet (5.1.6.2: the header comes first).
            guard length >= VirtioNetProtocol.headerSize, length <= VirtioNetProtocol.maxPacketSize else {
                droppedTransmits += 1
                return 0
            }
            var sent = false
            do {
                try reader.withIOVectors(count: length) { buffers in
                    sent = backend.send(buffers)
                    return length
                }
            } catch let error as VirtqueueError {
                throw error
            } catch let error as GuestMemoryError {
                throw .memory(error)
            } catch {
                droppedTransmits += 1
            }
            if !sent { droppedTransmits += 1 }
            return 0  // the device writes nothing into a transmit chain
        }
    }
}
