/// Little-endian appends: every multi-byte field in ACPI tables and AML is little-endian
/// (ACPI 6.5 §5.2 "All numeric values in ACPI-defined tables ... are little-endian").
extension Array where Element == UInt8 {
    mutating func append(le value: UInt16) {
        append(UInt8(truncatingIfNeeded: value))
        append(UInt8(truncatingIfNeeded: value >> 8))
    }

    mutating func append(le value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func append(le value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    /// ASCII text padded with spaces (or cut) to exactly `width` bytes, as OEM ID fields are.
    mutating func append(ascii text: String, width: Int) {
        var field = Array(text.utf8.prefix(width))
        field += [UInt8](repeating: 0x20, count: width - field.count)
        append(contentsOf: field)
    }

    /// Overwrites `count` bytes at `offset` with `value`, little-endian.
    mutating func patch(le value: UInt64, at offset: Int, count: Int) {
        for i in 0..<count { self[offset + i] = UInt8(truncatingIfNeeded: value >> UInt64(8 * i)) }
    }
}
