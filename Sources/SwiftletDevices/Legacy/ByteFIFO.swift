/// A bounded first-in first-out queue of bytes: a ring, so that neither end moves memory.
struct ByteFIFO: Sendable {
    private var storage: [UInt8]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        storage = [UInt8](repeating: 0, count: max(capacity, 1))
    }

    var capacity: Int { storage.count }
    var isEmpty: Bool { count == 0 }
    var isFull: Bool { count == storage.count }
    var freeSpace: Int { storage.count - count }
    var first: UInt8? { isEmpty ? nil : storage[head] }

    /// Appends `byte` unless the queue is full; returns whether it was kept.
    @discardableResult
    mutating func push(_ byte: UInt8) -> Bool {
        guard !isFull else { return false }
        storage[(head + count) % storage.count] = byte
        count += 1
        return true
    }

    mutating func pop() -> UInt8? {
        guard !isEmpty else { return nil }
        let byte = storage[head]
        head = (head + 1) % storage.count
        count -= 1
        return byte
    }

    /// The queued bytes, oldest first (for a snapshot).
    var contents: [UInt8] { (0..<count).map { storage[(head + $0) % storage.count] } }

    mutating func removeAll() {
        head = 0
        count = 0
    }
}
