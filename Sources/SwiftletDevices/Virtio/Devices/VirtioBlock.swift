#if canImport(Glibc)
import Glibc
#endif

/// A virtio block device (virtio 1.2 section 5.2) over a host file or block device: one
/// request queue, every request checked against the disk before any I/O.
///
/// Threading: serves one event-loop thread, like `Virtqueue`; `@unchecked Sendable` only
/// so it can be handed to that thread.
public final class VirtioBlock: VirtioDeviceCore, @unchecked Sendable {
    public static let deviceID: UInt16 = 2
    public static let queueSize: UInt16 = 256
    /// Advertised limits (5.2.4). seg_max leaves the queue room for header and status.
    public static let segMax = UInt32(queueSize) - 2
    public static let sizeMax: UInt32 = 1 << 20
    public static let maxDiscardSectors: UInt32 = 1 << 22  // 2 GiB per segment
    public static let maxDiscardSegments: UInt32 = 32
    /// 4 KiB: the file system block a hole is punched in.
    public static let discardSectorAlignment: UInt32 = 8

    private(set) var file: BlockBackingFile
    private var config: VirtioConfigSpace
    private var queue: Virtqueue?
    private(set) var negotiated: UInt64 = 0

    /// Opens the image at `path` (O_RDWR, or O_RDONLY and offering VIRTIO_BLK_F_RO).
    public convenience init(path: String, readOnly: Bool = false) throws(VirtioBlockError) {
        self.init(file: try BlockBackingFile(path: path, readOnly: readOnly))
    }

    /// A disk over a file the machine opened once and keeps across guest resets.
    public init(file: BlockBackingFile) {
        self.file = file
        config = Self.makeConfig(sectors: file.sectors)
    }

    /// Serves the disk from `newFile` from the next request on (Firecracker's PATCH
    /// /drives: a placeholder swapped for the real image). The capacity in the
    /// configuration follows; the caller tells the driver with a configuration-change
    /// interrupt. The read-only mode cannot change under a running driver, so it must match.
    public func replaceBackingFile(_ newFile: BlockBackingFile) -> Bool {
        guard newFile.readOnly == file.readOnly else { return false }
        file = newFile
        config.set(newFile.sectors, at: VirtioBlockProtocol.Config.capacity)
        return true
    }

    // MARK: What --verbose shows

    public var path: String { file.path }
    public var readOnly: Bool { file.readOnly }
    /// Capacity in 512-byte sectors.
    public var capacity: UInt64 { file.sectors }
    /// Bytes at the end of the file past the last whole sector: the guest cannot see them.
    public var ignoredTrailingBytes: UInt64 { file.ignoredTrailingBytes }
    /// The GET_ID answer, NUL-padded to 20 bytes.
    public var serial: [UInt8] { file.serial }
    /// False when discard and write-zeroes fall back to writing zeroes.
    public var canDeallocate: Bool { FileSpace.hasFallocate }

    // MARK: VirtioDeviceCore

    public var deviceID: UInt16 { Self.deviceID }
    public var queueMaxSizes: [UInt16] { [Self.queueSize] }

    public var deviceFeatures: UInt64 {
        typealias P = VirtioBlockProtocol
        var features = P.featureSizeMax | P.featureSegMax | P.featureBlockSize | P.featureFlush
        // Discard and write-zeroes change the disk: not for a read-only one.
        features |= readOnly ? P.featureReadOnly : P.featureDiscard | P.featureWriteZeroes
        return features
    }

    public func configRead(offset: Int, size: Int) -> UInt64 { config.read(offset: offset, size: size) }

    /// Nothing is writable: `writeback` is only with CONFIG_WCE, which we do not offer.
    public func configWrite(offset: Int, size: Int, value: UInt64) {}

    public func activate(features: UInt64, queues: [Virtqueue]) throws(VirtioDeviceError) {
        guard queues.count == 1 else { throw .queueCount(device: "block", expected: 1, got: queues.count) }
        negotiated = features & deviceFeatures
        queue = queues[0]
    }

    /// Pushes everything written so far to storage: swiftlet's own flush when the run
    /// ends (a signal included), so what the guest wrote outlives us even if the host
    /// crashes next. Data only, as VIRTIO_BLK_T_FLUSH does.
    public func flushToStorage() throws(VirtioBlockError) {
        try file.flushToStorage()
    }

    public func reset() {
        queue = nil
        negotiated = 0
    }

    public func process(queue index: Int) throws(VirtqueueError) -> Bool {
        guard index == 0, let queue else { return false }
        return try queue.serviceAvailable { (chain) throws(VirtqueueError) in try serve(chain, memory: queue.memory) }
    }

    private static func makeConfig(sectors: UInt64) -> VirtioConfigSpace {
        typealias C = VirtioBlockProtocol.Config
        var config = VirtioConfigSpace(size: C.size)
        config.set(sectors, at: C.capacity)
        config.set(sizeMax, at: C.sizeMax)
        config.set(segMax, at: C.segMax)
        config.set(UInt32(BlockBackingFile.sectorSize), at: C.blockSize)
        config.set(UInt8(1), at: C.writeback)  // FLUSH is honoured: a write-back cache
        config.set(maxDiscardSectors, at: C.maxDiscardSectors)
        config.set(maxDiscardSegments, at: C.maxDiscardSegments)
        config.set(discardSectorAlignment, at: C.discardSectorAlignment)
        config.set(maxDiscardSectors, at: C.maxWriteZeroesSectors)
        config.set(maxDiscardSegments, at: C.maxWriteZeroesSegments)
        config.set(UInt8(1), at: C.writeZeroesMayUnmap)
        return config
    }
}
