#if canImport(Glibc)
import Glibc
#endif

/// All of the guest's RAM: one anonymous host mapping split into guest-physical regions.
///
/// This is the only type in Swiftlet that holds a raw pointer into guest memory. Every
/// access names a guest address and a length, and is checked against the regions before a
/// byte moves: a guest may hand us any 64-bit number, and the answer to a bad one is an
/// error, never a stray host access. An access never spans two regions, since on x86 the
/// regions are separated by the MMIO hole.
public final class GuestMemory: @unchecked Sendable {
    // @unchecked: the mapping never moves or shrinks while the object lives. Concurrent
    // access to the same guest bytes from several threads is the guest's business, exactly
    // as it is on real hardware.
    private let base: UnsafeMutableRawPointer
    private let mappingSize: Int
    public let regions: [GuestRegion]

    /// Maps `ranges` (start, size) of guest-physical RAM, zero-filled, in one mapping.
    /// Ranges must be sorted, non-overlapping and page-aligned.
    public init(ranges: [(start: UInt64, size: UInt64)]) throws(GuestMemoryError) {
        var regions: [GuestRegion] = []
        var offset = 0
        for range in ranges {
            regions.append(GuestRegion(start: GuestAddress(range.start), size: range.size, hostOffset: offset))
            offset += Int(range.size)
        }
        // MAP_NORESERVE: a guest that never touches its memory should not cost the host any.
        let mapped = mmap(nil, offset, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw .mapFailed(size: UInt64(offset), errno: errno)
        }
        self.base = mapped
        self.mappingSize = offset
        self.regions = regions
    }

    deinit { munmap(base, mappingSize) }

    /// Total bytes of RAM.
    public var size: UInt64 { UInt64(mappingSize) }

    /// Host virtual address of a region, as an integer: KVM needs it to map the region
    /// into the guest, and that is the only use it has.
    public func hostAddress(of region: GuestRegion) -> UInt64 {
        UInt64(UInt(bitPattern: base + region.hostOffset))
    }

    /// Whether [address, address + count) is wholly inside guest RAM.
    public func contains(_ address: GuestAddress, count: UInt64) -> Bool {
        region(containing: address, count: count) != nil
    }

    private func region(containing address: GuestAddress, count: UInt64) -> GuestRegion? {
        regions.first { $0.contains(address, count: count) }
    }

    /// The host buffer for a checked guest range. Private: callers get bytes, not pointers.
    private func buffer(at address: GuestAddress, count: UInt64) throws(GuestMemoryError) -> UnsafeMutableRawBufferPointer {
        guard let region = region(containing: address, count: count) else {
            throw .outOfRange(address, count: count)
        }
        let offset = region.hostOffset + Int(address.value - region.start.value)
        return UnsafeMutableRawBufferPointer(start: base + offset, count: Int(count))
    }

    // MARK: Typed access

    /// Reads a little-endian value of type `T` (any alignment).
    public func read<T: BitwiseCopyable>(_ type: T.Type, at address: GuestAddress) throws(GuestMemoryError) -> T {
        let bytes = try buffer(at: address, count: UInt64(MemoryLayout<T>.size))
        return bytes.loadUnaligned(as: T.self)
    }

    /// Writes `value` (any alignment).
    public func write<T: BitwiseCopyable>(_ value: T, at address: GuestAddress) throws(GuestMemoryError) {
        let bytes = try buffer(at: address, count: UInt64(MemoryLayout<T>.size))
        bytes.storeBytes(of: value, as: T.self)
    }

    // MARK: Byte ranges

    /// Copies `count` bytes out of the guest.
    public func readBytes(at address: GuestAddress, count: Int) throws(GuestMemoryError) -> [UInt8] {
        let source = try buffer(at: address, count: UInt64(count))
        return Array(source)
    }

    /// Copies bytes into the guest, all or nothing.
    public func write(bytes: some Collection<UInt8>, at address: GuestAddress) throws(GuestMemoryError) {
        let target = try buffer(at: address, count: UInt64(bytes.count))
        _ = target.initializeMemory(as: UInt8.self, from: bytes)
    }

    /// Sets `count` bytes to `byte`.
    public func fill(_ byte: UInt8, at address: GuestAddress, count: UInt64) throws(GuestMemoryError) {
        let target = try buffer(at: address, count: count)
        if count > 0 { target.initializeMemory(as: UInt8.self, repeating: byte) }
    }

    /// Lends a checked guest range to `body` for I/O straight into or out of guest memory
    /// (pread, writev, getrandom). The buffer must not escape `body`.
    public func withBytes<R>(
        at address: GuestAddress, count: UInt64,
        _ body: (UnsafeMutableRawBufferPointer) throws -> R
    ) throws -> R {
        try body(try buffer(at: address, count: count))
    }
}

extension GuestMemory {
    /// Lends several checked guest ranges at once, in order, for scatter-gather I/O
    /// (readv, writev, preadv) straight into or out of guest memory. Every range is checked
    /// before `body` runs, so it sees all of them or none. The buffers must not escape.
    public func withBytes<R>(
        ranges: [(address: GuestAddress, count: UInt64)],
        _ body: ([UnsafeMutableRawBufferPointer]) throws -> R
    ) throws -> R {
        var buffers: [UnsafeMutableRawBufferPointer] = []
        buffers.reserveCapacity(ranges.count)
        for range in ranges {
            buffers.append(try buffer(at: range.address, count: range.count))
        }
        return try body(buffers)
    }
}
