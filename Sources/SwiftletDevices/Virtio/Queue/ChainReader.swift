import SwiftletMemory

/// Reads a chain's device-readable buffers in order as one stream, so a device parses a
/// request header without caring where the driver split it (virtio 1.2 section 2.6.4:
/// devices must not assume any particular framing). Every byte goes through GuestMemory.
public struct ChainReader: Sendable {
    public let memory: GuestMemory
    private var cursor: ChainCursor

    public init(memory: GuestMemory, chain: DescriptorChain) {
        self.memory = memory
        self.cursor = ChainCursor(chain.readable)
    }

    /// Bytes not yet read.
    public var remaining: Int { cursor.remaining }
    /// Bytes read (or skipped) so far.
    public var bytesRead: Int { cursor.consumed }

    /// Fills `destination` completely from the stream, or throws without moving.
    public mutating func read(into destination: UnsafeMutableRawBufferPointer) throws(VirtqueueError) {
        let count = destination.count
        guard count <= remaining else { throw .readPastEnd(requested: count, remaining: remaining) }
        var filled = 0
        for range in cursor.ranges(count: count) {
            do {
                try memory.withBytes(at: range.address, count: range.count) { source in
                    UnsafeMutableRawBufferPointer(rebasing: destination[filled..<(filled + source.count)])
                        .copyMemory(from: UnsafeRawBufferPointer(source))
                }
            } catch let error as GuestMemoryError {
                throw .memory(error)
            } catch {
                throw .memory(.outOfRange(range.address, count: range.count))
            }
            filled += Int(range.count)
        }
        cursor.advance(by: count)
    }

    /// The next `count` bytes.
    public mutating func readBytes(count: Int) throws(VirtqueueError) -> [UInt8] {
        guard count >= 0, count <= remaining else { throw .readPastEnd(requested: count, remaining: remaining) }
        var bytes = [UInt8](repeating: 0, count: count)
        // Array's closure APIs rethrow untyped errors; carry ours out by hand.
        var failure: VirtqueueError?
        bytes.withUnsafeMutableBytes { buffer in
            do throws(VirtqueueError) { try read(into: buffer) } catch { failure = error }
        }
        if let failure { throw failure }
        return bytes
    }

    /// The next `MemoryLayout<T>.size` bytes as a `T` (little-endian fields, any
    /// alignment), e.g. a virtio_blk_req header.
    public mutating func readObject<T: BitwiseCopyable>(_ type: T.Type) throws(VirtqueueError) -> T {
        let count = MemoryLayout<T>.size
        guard count <= remaining else { throw .readPastEnd(requested: count, remaining: remaining) }
        return try withUnsafeTemporaryAllocation(byteCount: max(count, 1), alignment: MemoryLayout<T>.alignment) {
            (scratch) throws(VirtqueueError) -> T in
            let bytes = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<count])
            try read(into: bytes)
            return bytes.loadUnaligned(as: T.self)
        }
    }

    /// Skips `count` bytes.
    public mutating func skip(_ count: Int) throws(VirtqueueError) {
        guard count >= 0, count <= remaining else { throw .readPastEnd(requested: count, remaining: remaining) }
        cursor.advance(by: count)
    }

    /// Lends the next `count` readable bytes (at most `remaining`) to `body` as guest
    /// buffers, in order, for writev/pwritev straight from guest memory. `body` returns how
    /// many bytes it consumed (0...count); the reader moves on by that much.
    @discardableResult
    public mutating func withIOVectors(
        count: Int, _ body: ([UnsafeMutableRawBufferPointer]) throws -> Int
    ) throws -> Int {
        guard count >= 0, count <= remaining else { throw VirtqueueError.readPastEnd(requested: count, remaining: remaining) }
        let moved = try memory.withBytes(ranges: cursor.ranges(count: count), body)
        guard moved >= 0, moved <= count else { throw VirtqueueError.transferCountInvalid(returned: moved, offered: count) }
        cursor.advance(by: moved)
        return moved
    }
}
