/// The numbers of virtio-blk (virtio 1.2 section 5.2).
public enum VirtioBlockProtocol {
    /// Feature bits (5.2.3).
    public static let featureSizeMax: UInt64 = 1 << 1
    public static let featureSegMax: UInt64 = 1 << 2
    public static let featureReadOnly: UInt64 = 1 << 5
    public static let featureBlockSize: UInt64 = 1 << 6
    public static let featureFlush: UInt64 = 1 << 9
    public static let featureDiscard: UInt64 = 1 << 13
    public static let featureWriteZeroes: UInt64 = 1 << 14

    /// Request types (5.2.6).
    public static let typeIn: UInt32 = 0
    public static let typeOut: UInt32 = 1
    public static let typeFlush: UInt32 = 4
    public static let typeGetID: UInt32 = 8
    public static let typeDiscard: UInt32 = 11
    public static let typeWriteZeroes: UInt32 = 13

    /// Status byte values (5.2.6).
    public static let statusOK: UInt8 = 0
    public static let statusIOError: UInt8 = 1
    public static let statusUnsupported: UInt8 = 2

    /// struct virtio_blk_req's header: le32 type, le32 reserved, le64 sector.
    static let headerSize = 16
    /// struct virtio_blk_discard_write_zeroes: le64 sector, le32 num_sectors, le32 flags.
    static let segmentSize = 16
    /// The one flag a discard/write-zeroes segment may carry (write zeroes only).
    static let segmentUnmap: UInt32 = 1

    /// Offsets in struct virtio_blk_config (5.2.4).
    enum Config {
        static let capacity = 0
        static let sizeMax = 8
        static let segMax = 12
        static let blockSize = 20
        static let physicalBlockExponent = 24
        static let writeback = 32
        static let maxDiscardSectors = 36
        static let maxDiscardSegments = 40
        static let discardSectorAlignment = 44
        static let maxWriteZeroesSectors = 48
        static let maxWriteZeroesSegments = 52
        static let writeZeroesMayUnmap = 56
        /// Through unused1[3], the last field we fill; the secure-erase and zoned fields
        /// after it belong to features we do not offer and read as 0.
        static let size = 60
    }
}

/// One discard or write-zeroes range as the driver wrote it.
struct VirtioBlockSegment: Equatable {
    var sector: UInt64
    var sectors: UInt32
    var flags: UInt32

    init(_ bytes: [UInt8]) {
        func field(_ offset: Int, _ width: Int) -> UInt64 {
            (0..<width).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
        }
        sector = field(0, 8)
        sectors = UInt32(truncatingIfNeeded: field(8, 4))
        flags = UInt32(truncatingIfNeeded: field(12, 4))
    }
}
