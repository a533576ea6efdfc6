import SwiftletMemory

/// One request the driver made available: the head descriptor index (what goes back in
/// the used ring) and its buffers, already checked to lie wholly in guest RAM.
///
/// Buffers keep the driver's order. `readable` are the device-readable ones (the driver
/// filled them), `writable` the device-writable ones (the device fills them); virtio 1.2
/// section 2.7.4.2 puts every readable buffer before every writable one, and the walk
/// enforces that. Zero-length buffers carry no bytes and are left out.
public struct DescriptorChain: Sendable, Equatable {
    /// A checked guest range of one descriptor.
    public struct Buffer: Sendable, Equatable {
        public var address: GuestAddress
        public var length: UInt32

        public init(address: GuestAddress, length: UInt32) {
            self.address = address
            self.length = length
        }
    }

    /// The head descriptor index: pass it to `Virtqueue.addUsed(head:writtenLength:)`.
    public var head: UInt16
    public var readable: [Buffer]
    public var writable: [Buffer]

    public init(head: UInt16, readable: [Buffer], writable: [Buffer]) {
        self.head = head
        self.readable = readable
        self.writable = writable
    }

    /// Total bytes the device may read.
    public var readableLength: Int { readable.reduce(0) { $0 + Int($1.length) } }
    /// Total bytes the device may write.
    public var writableLength: Int { writable.reduce(0) { $0 + Int($1.length) } }
}
