import CZlib

/// The state file's layout, version 1. All numbers are little-endian.
///
///     offset  size  field
///     0       8     magic "SWLTSNAP"
///     8       4     format version (1)
///     12      4     flags (0; a reader refuses any it does not know)
///     16      8     total file length, CRC included
///     24      4     section count
///     28      4     reserved (0)
///     32      ...   sections: tag (4), flags (4, bit 0 = required), length (8), payload
///     end-4   4     CRC-32 (zlib's polynomial) of every byte before it
///
/// The header's length lets a reader tell a truncated file from a corrupted one before it
/// looks at the CRC; the CRC covers the header too, so a flipped length or tag is caught.
/// A new version may change anything after the version field, so a reader checks the
/// magic and the version before trusting anything else.
public enum SnapshotFormat {
    public static let magic: [UInt8] = Array("SWLTSNAP".utf8)
    public static let version: UInt32 = 1
    static let headerSize = 32
    static let sectionHeaderSize = 16
    static let crcSize = 4
    static let requiredFlag: UInt32 = 1

    /// zlib's CRC-32 of `bytes`.
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        let crc = crc32_z(0, base.assumingMemoryBound(to: Bytef.self), bytes.count)
        return UInt32(truncatingIfNeeded: crc)
    }

    /// The bytes of a state file holding `sections`, in order.
    public static func encode(_ sections: [SnapshotSection]) -> [UInt8] {
        var out = ByteWriter()
        let total = headerSize + sections.reduce(0) { $0 + sectionHeaderSize + $1.payload.count } + crcSize
        out.append(magic)
        out.append(version)
        out.append(UInt32(0))
        out.append(UInt64(total))
        out.append(UInt32(sections.count))
        out.append(UInt32(0))
        for section in sections {
            out.append(section.tag.rawValue)
            out.append(section.required ? requiredFlag : 0)
            out.append(UInt64(section.payload.count))
            out.append(section.payload)
        }
        let crc = out.bytes.withUnsafeBytes { crc32($0) }
        out.append(crc)
        return out.bytes
    }

    /// The sections of a state file, checked whole before any is returned: magic, version,
    /// length, CRC, then each section's bounds. Unknown optional sections are dropped; an
    /// unknown required one is an error. `known` is every tag the caller understands.
    public static func decode(_ bytes: [UInt8], known: Set<SectionTag>) throws(SnapshotError) -> [SnapshotSection] {
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            // A file cut inside the magic number is more likely truncated than foreign.
            if bytes.count < magic.count, Array(magic[0..<bytes.count]) == bytes {
                throw .truncated(expected: UInt64(headerSize + crcSize), actual: UInt64(bytes.count))
            }
            throw .notASnapshot
        }
        guard bytes.count >= headerSize + crcSize else {
            throw .truncated(expected: UInt64(headerSize + crcSize), actual: UInt64(bytes.count))
        }
        var header = ByteReader(bytes[magic.count..<headerSize], tag: 0)
        let found = try header.read(UInt32.self)
        guard found == version else { throw .unsupportedVersion(found: found, supported: version) }
        let flags = try header.read(UInt32.self)
        let total = try header.read(UInt64.self)
        let count = try header.read(UInt32.self)
        let actual = UInt64(bytes.count)
        guard total <= actual else { throw .truncated(expected: total, actual: actual) }
        guard total == actual else { throw .trailingBytes(expected: total, actual: actual) }
        let body = bytes.count - crcSize
        let stored = ByteReader.load(UInt32.self, bytes, at: body)
        let computed = bytes.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[0..<body])) }
        guard stored == computed else { throw .checksumMismatch(stored: stored, computed: computed) }
        // Only now, with the CRC good, do the header's other fields mean anything.
        guard flags == 0 else { throw .malformedSection(tag: 0, detail: "header flags 0x\(String(flags, radix: 16)) are unknown") }

        var reader = ByteReader(bytes[headerSize..<body], tag: 0)
        var sections: [SnapshotSection] = []
        for _ in 0..<count {
            let tag = try reader.read(UInt32.self)
            let sectionFlags = try reader.read(UInt32.self)
            let length = try reader.read(UInt64.self)
            guard length <= UInt64(reader.remaining) else {
                throw .malformedSection(tag: tag, detail: "its \(length) bytes run past the end of the file")
            }
            let payload = try reader.bytes(Int(length))
            let required = sectionFlags & requiredFlag != 0
            let sectionTag = SectionTag(rawValue: tag)
            if known.contains(sectionTag) {
                sections.append(SnapshotSection(sectionTag, required: required, payload: payload))
            } else if required {
                throw .unknownRequiredSection(tag: tag)
            }
        }
        guard reader.remaining == 0 else {
            throw .malformedSection(tag: 0, detail: "\(reader.remaining) bytes follow the last of \(count) sections")
        }
        return sections
    }
}
