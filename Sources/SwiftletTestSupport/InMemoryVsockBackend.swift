import SwiftletDevices

/// A vsock backend whose host programs are byte arrays, for unit tests and fuzzing: each
/// stream has what the "host program" wrote (for the guest) and what it received, and a
/// test decides how much the program takes, whether it has ended, and who listens.
public final class InMemoryVsockBackend: VsockBackend {
    public final class Stream {
        public let id: VsockStreamID
        /// Host port a guest-initiated stream was made for (nil: host-initiated).
        public let port: UInt32?
        /// Bytes the host program wrote that the device has not read.
        public var toGuest: [UInt8] = []
        /// The host program closed its writing end.
        public var hostEnded = false
        /// Everything the device wrote to the host program.
        public var fromGuest: [UInt8] = []
        /// How many more bytes the host program takes now (nil: any).
        public var accepting: Int?
        /// The host program is gone: writes fail.
        public var gone = false
        public var readableWatched = false
        public var writableWatched = false
        public var writeShut = false
        public var closed = false

        init(id: VsockStreamID, port: UInt32?) {
            self.id = id
            self.port = port
        }
    }

    public private(set) var streams: [VsockStreamID: Stream] = [:]
    /// Host ports with a listener.
    public var listening: Set<UInt32> = []
    public private(set) var deliveriesScheduled = 0
    public private(set) var deadline: UInt64?
    private var nextID: VsockStreamID = 1

    public init() {}

    /// A stream for a host-initiated connection (what `CONNECT` makes).
    public func openHostStream() -> Stream {
        let stream = Stream(id: nextID, port: nil)
        nextID += 1
        streams[stream.id] = stream
        return stream
    }

    public var openStreams: [Stream] { streams.values.filter { !$0.closed }.sorted { $0.id < $1.id } }

    public func connect(toPort port: UInt32) -> VsockStreamID? {
        guard listening.contains(port) else { return nil }
        let stream = Stream(id: nextID, port: port)
        nextID += 1
        streams[stream.id] = stream
        return stream.id
    }

    public func read(_ id: VsockStreamID, into buffers: [UnsafeMutableRawBufferPointer]) -> VsockRead {
        guard let stream = streams[id], !stream.closed else { return .end }
        if stream.toGuest.isEmpty { return stream.hostEnded ? .end : .wouldBlock }
        var count = 0
        for buffer in buffers {
            let piece = min(buffer.count, stream.toGuest.count - count)
            guard piece > 0 else { break }
            stream.toGuest.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[count..<(count + piece)]))
            }
            count += piece
        }
        guard count > 0 else { return .wouldBlock }
        stream.toGuest.removeFirst(count)
        return .bytes(count)
    }

    public func write(_ id: VsockStreamID, from buffers: [UnsafeRawBufferPointer]) -> Int? {
        guard let stream = streams[id], !stream.closed, !stream.gone else { return nil }
        var budget = stream.accepting ?? Int.max
        var count = 0
        for buffer in buffers where budget > 0 {
            let piece = min(buffer.count, budget)
            stream.fromGuest += buffer.prefix(piece)
            budget -= piece
            count += piece
        }
        if stream.accepting != nil { stream.accepting = budget }
        return count
    }

    public func watch(_ id: VsockStreamID, readable: Bool, writable: Bool) {
        streams[id]?.readableWatched = readable
        streams[id]?.writableWatched = writable
    }

    public func shutdownWrite(_ id: VsockStreamID) { streams[id]?.writeShut = true }
    public func close(_ id: VsockStreamID) { streams[id]?.closed = true }
    public func scheduleDelivery() { deliveriesScheduled += 1 }
    public func deadlineChanged(_ deadline: UInt64?) { self.deadline = deadline }
}
