/// Legacy ISA devices have 8-bit registers: a wider access is a run of byte cycles at
/// consecutive ports, as the ISA bus splits `inw`/`inl`. Lanes past the device's window
/// float high on reads and vanish on writes, like any unclaimed port.
enum ByteLanes {
    static func read(offset: UInt64, size: Int, width: UInt64, _ readByte: (UInt64) -> UInt8) -> UInt64 {
        var value: UInt64 = 0
        for lane in 0..<min(max(size, 1), 8) {
            let port = offset &+ UInt64(lane)
            let byte = port < width ? readByte(port) : 0xFF
            value |= UInt64(byte) << UInt64(8 * lane)
        }
        return value
    }

    static func write(offset: UInt64, size: Int, value: UInt64, width: UInt64, _ writeByte: (UInt64, UInt8) -> Void) {
        for lane in 0..<min(max(size, 1), 8) {
            let port = offset &+ UInt64(lane)
            if port < width { writeByte(port, UInt8(truncatingIfNeeded: value >> UInt64(8 * lane))) }
        }
    }
}
