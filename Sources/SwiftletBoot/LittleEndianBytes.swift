/// Bounds-checked little-endian reads from a file's bytes. A kernel file is as hostile as
/// a guest: every read answers nil rather than trapping when it would run past the end.
extension Array where Element == UInt8 {
    func u8(at offset: Int) -> UInt8? {
        offset >= 0 && offset < count ? self[offset] : nil
    }

    func u16(at offset: Int) -> UInt16? { littleEndian(at: offset, size: 2).map(UInt16.init) }
    func u32(at offset: Int) -> UInt32? { littleEndian(at: offset, size: 4).map(UInt32.init) }
    func u64(at offset: Int) -> UInt64? { littleEndian(at: offset, size: 8) }

    private func littleEndian(at offset: Int, size: Int) -> UInt64? {
        guard offset >= 0, offset <= count - size else { return nil }
        var value: UInt64 = 0
        for index in (0..<size).reversed() {
            value = value << 8 | UInt64(self[offset + index])
        }
        return value
    }

    /// Stores `value` little-endian at `offset`, which the caller has sized the array for.
    mutating func store<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for index in 0..<MemoryLayout<T>.size {
            self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index))
        }
    }
}

/// "0x1f1"-style hex for messages.
func hex<T: BinaryInteger>(_ value: T) -> String { "0x" + String(value, radix: 16) }

/// A byte count the way a user thinks of it: "300 MiB", "12 KiB", "17 bytes".
func humanSize(_ bytes: UInt64) -> String {
    if bytes >= 1 << 20 { return "\((bytes + (1 << 20) - 1) >> 20) MiB" }
    if bytes >= 1 << 10 { return "\((bytes + (1 << 10) - 1) >> 10) KiB" }
    return "\(bytes) bytes"
}
