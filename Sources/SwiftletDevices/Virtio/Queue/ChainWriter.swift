import SwiftletMemory

/// Writes into a chain's device-writable buffers in order as one stream. `bytesWritten`
/// is what the device reports as the used length (virtio 1.2 section 2.7.8.1).
public struct ChainWriter: Sendable {
    public let memory: GuestMemory
    private var cursor: ChainCursor

    public init(memory: GuestMemory, chain: DescriptorChain) {
        self.memory = memory
        self.cursor = ChainCursor(chain.writable)
    }

    /// Bytes written so far: the used length to report.
    public var bytesWritten: Int { cursor.consumed }
    /// Room left.
    public var remaining: Int { cursor.remaining }
    /// `bytesWritten` as the used ring wants it (a chain never holds more than 2^32-1).
    public var usedLength: UInt32 { UInt32(clamping: bytesWritten) }

    /// Writes all of `source`, or throws without writing anything.
    public mutating func write(_ source: UnsafeRawBufferPointer) throws(VirtqueueError) {
        let count = source.count
        guard count <= remaining else { throw .writePastEnd(requested: count, remaining: remaining) }
        var done = 0
        for range in cursor.ranges(count: count) {
            do {
                try memory.withBytes(at: range.address, count: range.count) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[done..<(done + target.count)]))
                }
            } catch let error as GuestMemoryError {
                throw .memory(error)
            } catch {
                throw .memory(.outOfRange(range.address, count: range.count))
            }
            done += Int(range.count)
        }
        cursor.advance(by: count)
    }

    /// Writes `bytes`.
    public mutating func write(bytes: [UInt8]) throws(VirtqueueError) {
        // Array's closure APIs rethrow untyped errors; carry ours out by hand.
        var failure: VirtqueueError?
        bytes.withUnsafeBytes { buffer in
            do throws(VirtqueueError) { try write(buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Writes `value`'s bytes (e.g. a one-byte status or a response header).
    public mutating func writeObject<T: BitwiseCopyable>(_ value: T) throws(VirtqueueError) {
        try withUnsafeBytes(of: value) { (buffer) throws(VirtqueueError) in try write(buffer) }
    }

    /// Lends the next `count` writable bytes (at most `remaining`) to `body` as guest
    /// buffers, in order, for readv/preadv/getrandom straight into guest memory. `body`
    /// returns how many bytes it filled (0...count); the writer moves on by that much.
    @discardableResult
    public mutating func withIOVectors(
        count: Int, _ body: ([UnsafeMutableRawBufferPointer]) throws -> Int
    ) throws -> Int {
        guard count >= 0, count <= remaining else { throw VirtqueueError.writePastEnd(requested: count, remaining: remaining) }
        let moved = try memory.withBytes(ranges: cursor.ranges(count: count), body)
        guard moved >= 0, moved <= count else { throw VirtqueueError.transferCountInvalid(returned: moved, offered: count) }
        cursor.advance(by: moved)
        return moved
    }
}
