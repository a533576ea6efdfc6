/// The compression of a bzImage payload, told by its magic number (boot.rst,
/// "payload_offset"; the decompressors in lib/decompress_*.c).
public enum PayloadFormat: String, Equatable, Sendable, CustomStringConvertible {
    case gzip
    case xz
    case lz4
    case zstd
    case bzip2
    case lzma
    case lzo
    /// An ELF file stored as is.
    case uncompressed
    case unknown

    public init(magicOf bytes: [UInt8]) {
        func starts(with magic: [UInt8]) -> Bool { bytes.starts(with: magic) }
        if starts(with: [0x1F, 0x8B]) || starts(with: [0x1F, 0x9E]) {
            self = .gzip
        } else if starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) {
            self = .xz
        } else if starts(with: [0x02, 0x21, 0x4C, 0x18]) {
            self = .lz4  // the legacy frame `lz4 -l` writes, which is what Kbuild uses
        } else if starts(with: [0x28, 0xB5, 0x2F, 0xFD]) {
            self = .zstd
        } else if starts(with: [0x42, 0x5A, 0x68]) {
            self = .bzip2
        } else if starts(with: [0x5D, 0x00, 0x00]) {
            self = .lzma
        } else if starts(with: [0x89, 0x4C, 0x5A, 0x4F]) {
            self = .lzo
        } else if ELFImage.hasMagic(bytes) {
            self = .uncompressed
        } else {
            self = .unknown
        }
    }

    /// Whether Swiftlet can decompress it on the host.
    public var isSupported: Bool {
        switch self {
        case .gzip, .xz, .lz4, .zstd, .uncompressed: return true
        case .bzip2, .lzma, .lzo, .unknown: return false
        }
    }

    public var description: String { rawValue }
}
