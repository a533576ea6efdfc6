#if canImport(Glibc)
import Glibc
#endif

/// All of the guest's RAM: one host mapping (anonymous, or a snapshot's memory file mapped
/// privately) split into guest-physical regions.
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

    private init(base: UnsafeMutableRawPointer, mappingSize: Int, regions: [GuestRegion]) {
        // The guest's RAM is the guest's secrets (keys, its users' data) and may hold
        // anything a hostile guest wants a crash report to carry: keep it out of core
        // dumps. Advice only; a kernel that refuses it changes nothing else, so the result
        // is not checked (MADV_DONTDUMP has existed since Linux 3.4).
        _ = madvise(base, mappingSize, MADV_DONTDUMP)
        self.base = base
        self.mappingSize = mappingSize
        self.regions = regions
    }

    /// Maps `ranges` (start, size) of guest-physical RAM, zero-filled, in one mapping.
    /// Ranges must be sorted, non-overlapping and page-aligned.
    public convenience init(ranges: [(start: UInt64, size: UInt64)]) throws(GuestMemoryError) {
        let (regions, size) = Self.layout(ranges)
        // MAP_NORESERVE: a guest that never touches its memory should not cost the host any.
        let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw .mapFailed(size: UInt64(size), errno: errno)
        }
        self.init(base: mapped, mappingSize: size, regions: regions)
    }

    /// Maps `ranges` of guest-physical RAM from the memory file at `path`, privately: a
    /// page is read from the file when the guest (or KVM for it) first touches it, and a
    /// write copies the page, so the file never changes and several VMs can start from it
    /// at once. The file holds the regions back to back in address order, as
    /// `forEachRegionInFileOrder` lends them to a writer, and must be exactly that long:
    /// a shorter file would turn the guest's touch of a page past its end into SIGBUS.
    public convenience init(ranges: [(start: UInt64, size: UInt64)], mappingFile path: String) throws(GuestMemoryError) {
        let (regions, size) = Self.layout(ranges)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .fileFailed(path: path, operation: "open", errno: errno) }
        // The mapping holds its own reference to the file.
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .fileFailed(path: path, operation: "stat", errno: errno) }
        guard status.st_size == size else {
            throw .fileSizeMismatch(path: path, expected: UInt64(size), actual: UInt64(max(status.st_size, 0)))
        }
        // PROT_WRITE on a read-only descriptor is allowed for MAP_PRIVATE: writes go to
        // private copies. MAP_NORESERVE as for anonymous RAM.
        let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw .mapFailed(size: UInt64(size), errno: errno)
        }
        self.init(base: mapped, mappingSize: size, regions: regions)
    }

    /// Regions back to back in one mapping, in the order given.
    private static func layout(_ ranges: [(start: UInt64, size: UInt64)]) -> ([GuestRegion], Int) {
        var regions: [GuestRegion] = []
        var offset = 0
        for range in ranges {
            regions.append(GuestRegion(start: GuestAddress(range.start), size: range.size, hostOffset: offset))
            offset += Int(range.size)
        }
        return (regions, offset)
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

extension GuestMemory {
    /// Lends each region's bytes with its offset in a memory file (regions back to back,
    /// as `init(ranges:mappingFile:)` maps them), for writing guest RAM out. The vCPUs
    /// must be paused; the buffers must not escape `body`.
    public func forEachRegionInFileOrder(_ body: (_ region: GuestRegion, _ fileOffset: Int, UnsafeRawBufferPointer) throws -> Void) throws {
        for region in regions {
            // Safe: the region lies inside the mapping by construction (see `layout`).
            try body(region, region.hostOffset, UnsafeRawBufferPointer(start: base + region.hostOffset, count: Int(region.size)))
        }
    }
}
