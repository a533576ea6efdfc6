/// A guest-physical address. A distinct type so that a host pointer, an offset and a
/// guest address can never be mixed up by accident.
public struct GuestAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    /// The address `count` bytes further on, or nil where that would wrap past 2^64:
    /// a guest that hands us 0xffff_ffff_ffff_f000 and a length must not wrap to zero.
    public func advanced(by count: UInt64) -> GuestAddress? {
        let (sum, overflow) = value.addingReportingOverflow(count)
        return overflow ? nil : GuestAddress(sum)
    }

    public static func < (a: GuestAddress, b: GuestAddress) -> Bool { a.value < b.value }

    public var description: String { "0x" + String(value, radix: 16) }
}
