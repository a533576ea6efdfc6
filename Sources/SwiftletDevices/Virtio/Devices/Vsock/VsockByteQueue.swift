/// Bytes from the guest that the host program has not taken yet, oldest first. Bounded by
/// the credit the device gives the guest, not here.
struct VsockByteQueue {
    private var storage: [UInt8] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }

    mutating func append(_ bytes: [UInt8]) {
        // Compact before growing, so a connection that always has a little waiting does
        // not grow its array without end.
        if head > 0 && head >= storage.count / 2 {
            storage.removeFirst(head)
            head = 0
        }
        storage.append(contentsOf: bytes)
    }

    /// Lends the waiting bytes to `body`, which returns how many it took.
    mutating func drain(_ body: (UnsafeRawBufferPointer) -> Int) -> Int {
        let taken = storage.withUnsafeBytes { all in
            body(UnsafeRawBufferPointer(rebasing: all[head...]))
        }
        let count = max(0, min(taken, self.count))
        head += count
        if head == storage.count {
            storage.removeAll(keepingCapacity: storage.capacity <= 1 << 16)
            head = 0
        }
        return count
    }

    mutating func removeAll() {
        storage = []
        head = 0
    }
}
