/// One contiguous range of guest-physical RAM, backed by part of the host mapping.
public struct GuestRegion: Sendable, Equatable {
    /// First guest-physical address of the region.
    public let start: GuestAddress
    /// Length in bytes.
    public let size: UInt64
    /// Where the region begins inside the single host mapping.
    let hostOffset: Int

    /// One past the last byte (never wraps: regions end at or below 2^52 on x86).
    public var end: UInt64 { start.value + size }

    /// Whether [address, address + count) lies wholly inside this region.
    public func contains(_ address: GuestAddress, count: UInt64) -> Bool {
        guard address.value >= start.value, let last = address.advanced(by: count) else { return false }
        return last.value <= end
    }
}
