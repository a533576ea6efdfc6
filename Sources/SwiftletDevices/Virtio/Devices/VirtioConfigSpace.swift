/// A device configuration structure as bytes (virtio 1.2 section 2.5): fields are
/// little-endian, and any access may land at any offset and size, including partly or
/// wholly past the end, which reads as zeros (the transport decides what is in range).
struct VirtioConfigSpace: Sendable, Equatable {
    private(set) var bytes: [UInt8]

    init(size: Int) { bytes = [UInt8](repeating: 0, count: size) }

    /// Stores `value`'s low `width` bytes at `offset` (a field of the struct we defined).
    mutating func set<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        let width = MemoryLayout<T>.size
        for i in 0..<width where offset + i < bytes.count {
            bytes[offset + i] = UInt8(truncatingIfNeeded: UInt64(truncatingIfNeeded: value) >> (8 * i))
        }
    }

    /// Up to 8 bytes from `offset`, little-endian; out-of-range bytes are 0.
    func read(offset: Int, size: Int) -> UInt64 {
        guard offset >= 0, size > 0 else { return 0 }
        var value: UInt64 = 0
        for i in 0..<min(size, 8) {
            let (index, overflow) = offset.addingReportingOverflow(i)
            guard !overflow, index < bytes.count else { break }
            value |= UInt64(bytes[index]) << (8 * i)
        }
        return value
    }
}
