import SwiftletDevices
import SwiftletSnapshot

/// The legacy devices' state in `DEV ` sections. pvpanic and the i8042 keep nothing a
/// running guest depends on across a snapshot (the i8042 only resets the machine).
extension Serial8250State {
    /// Far more than any UART buffers (4 KiB by default).
    private static let maxInput = 1 << 20

    public func encode(into writer: inout ByteWriter) {
        for byte in [ier, lcr, mcr, scr, divisorLow, divisorHigh, msrDeltas] { writer.append(byte) }
        writer.append(UInt8((fifosEnabled ? 1 : 0) | (thrInterruptPending ? 2 : 0) | (overrun ? 4 : 0)))
        writer.appendSized(input)
    }

    public init(from reader: inout ByteReader) throws(SnapshotError) {
        var bytes: [UInt8] = []
        for _ in 0..<7 { bytes.append(try reader.read(UInt8.self)) }
        let flags = try reader.read(UInt8.self)
        guard flags & ~7 == 0 else {
            throw .malformedSection(tag: SectionTag.device.rawValue, detail: "the UART has unknown flags \(flags)")
        }
        self.init(
            ier: bytes[0], lcr: bytes[1], mcr: bytes[2], scr: bytes[3], divisorLow: bytes[4], divisorHigh: bytes[5],
            fifosEnabled: flags & 1 != 0, thrInterruptPending: flags & 2 != 0, overrun: flags & 4 != 0,
            msrDeltas: bytes[6], input: try reader.sizedBytes(limit: Self.maxInput))
    }
}

extension CMOSRTCState {
    public func encode(into writer: inout ByteWriter) {
        writer.append(index)
        writer.appendSized(ram)
    }

    public init(from reader: inout ByteReader) throws(SnapshotError) {
        let index = try reader.read(UInt8.self)
        let ram = try reader.sizedBytes(limit: CMOSRTC.ramSize)
        guard ram.count == CMOSRTC.ramSize else {
            throw .malformedSection(tag: SectionTag.device.rawValue, detail: "CMOS of \(ram.count) bytes")
        }
        self.init(index: index, ram: ram)
    }
}
