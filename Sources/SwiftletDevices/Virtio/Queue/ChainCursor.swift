import SwiftletMemory

/// A position in a list of checked guest buffers, treated as one stream: what
/// `ChainReader` and `ChainWriter` share. It only computes ranges; moving bytes is theirs.
struct ChainCursor: Sendable {
    let buffers: [DescriptorChain.Buffer]
    private var bufferIndex = 0
    private var offset: UInt32 = 0
    private(set) var consumed = 0
    let total: Int

    init(_ buffers: [DescriptorChain.Buffer]) {
        self.buffers = buffers
        self.total = buffers.reduce(0) { $0 + Int($1.length) }
    }

    var remaining: Int { total - consumed }

    /// The guest ranges holding the next `count` bytes (count <= remaining), in order.
    func ranges(count: Int) -> [(address: GuestAddress, count: UInt64)] {
        var result: [(address: GuestAddress, count: UInt64)] = []
        var left = UInt64(max(count, 0))
        var index = bufferIndex
        var start = offset
        while left > 0, index < buffers.count {
            let buffer = buffers[index]
            let piece = min(UInt64(buffer.length - start), left)
            // In range: the walker checked address + length fits in RAM (and GuestMemory
            // checks again). Empty pieces are skipped: they need not be RAM at all.
            if piece > 0 { result.append((GuestAddress(buffer.address.value &+ UInt64(start)), piece)) }
            left -= piece
            index += 1
            start = 0
        }
        return result
    }

    /// Moves `count` bytes on (count <= remaining).
    mutating func advance(by count: Int) {
        var left = UInt64(max(count, 0))
        while left > 0, bufferIndex < buffers.count {
            let room = UInt64(buffers[bufferIndex].length - offset)
            if left < room {
                offset += UInt32(left)
                consumed += Int(left)
                return
            }
            left -= room
            consumed += Int(room)
            bufferIndex += 1
            offset = 0
        }
    }
}
