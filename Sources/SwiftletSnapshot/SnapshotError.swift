#if canImport(Glibc)
import Glibc
#endif

/// Why a snapshot could not be written or read, worded as the one line the user sees.
/// A reader that throws has handed nothing back: a snapshot is used whole or not at all.
public enum SnapshotError: Error, Equatable, CustomStringConvertible {
    /// The file does not start with Swiftlet's magic number: not a snapshot at all.
    case notASnapshot
    /// Written by a Swiftlet with another format version, which this one cannot read.
    case unsupportedVersion(found: UInt32, supported: UInt32)
    /// The file is shorter than its header says (a copy or a save that did not finish).
    case truncated(expected: UInt64, actual: UInt64)
    /// The file is longer than its header says: something was appended.
    case trailingBytes(expected: UInt64, actual: UInt64)
    /// The CRC over the file does not match: a byte changed since it was written.
    case checksumMismatch(stored: UInt32, computed: UInt32)
    /// A section this Swiftlet does not know and may not skip.
    case unknownRequiredSection(tag: UInt32)
    /// A section's length runs past the end of the file, or its contents do not parse.
    case malformedSection(tag: UInt32, detail: String)
    /// A section every snapshot has is not there.
    case missingSection(tag: UInt32)
    /// The host cannot give the guest what it had when the snapshot was taken.
    case incompatibleHost(String)
    /// The memory file cannot become guest RAM (missing, or not the size the state says).
    case memoryFile(String)
    /// Reading or writing a snapshot file failed.
    case io(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .notASnapshot:
            return "not a Swiftlet snapshot (bad magic number)"
        case .unsupportedVersion(let found, let supported):
            return "snapshot format version \(found) is not the version this Swiftlet reads (\(supported))"
        case .truncated(let expected, let actual):
            return "snapshot is truncated: \(actual) of \(expected) bytes"
        case .trailingBytes(let expected, let actual):
            return "snapshot has \(actual - expected) bytes after its end (\(actual) bytes, \(expected) expected)"
        case .checksumMismatch(let stored, let computed):
            return "snapshot is corrupted: CRC-32 is 0x\(hex(computed)), the file says 0x\(hex(stored))"
        case .unknownRequiredSection(let tag):
            return "snapshot has a required section this Swiftlet does not know (\(SectionTag.name(tag)))"
        case .malformedSection(let tag, let detail):
            return "snapshot section \(SectionTag.name(tag)) is malformed: \(detail)"
        case .missingSection(let tag):
            return "snapshot lacks its \(SectionTag.name(tag)) section"
        case .incompatibleHost(let detail):
            return "this host cannot restore the snapshot: \(detail)"
        case .memoryFile(let detail):
            return "snapshot memory: \(detail)"
        case .io(let path, let operation, let errno):
            return "cannot \(operation) \(path): \(String(cString: strerror(errno)))"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
