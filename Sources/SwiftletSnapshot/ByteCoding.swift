/// Appends little-endian numbers and byte runs: how every section payload is built.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    public init() {}

    public mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ run: [UInt8]) { bytes.append(contentsOf: run) }

    /// A byte run preceded by its length, for fields whose size varies (XSAVE, lists).
    public mutating func appendSized(_ run: [UInt8]) {
        append(UInt32(run.count))
        append(run)
    }
}

/// Reads little-endian numbers and byte runs, each checked against what is left: a
/// section that ends early is malformed, never a read past its end.
public struct ByteReader {
    private let storage: ArraySlice<UInt8>
    private var position: Int
    /// The section being read, for messages.
    let tag: UInt32

    init(_ storage: ArraySlice<UInt8>, tag: UInt32) {
        self.storage = storage
        self.position = storage.startIndex
        self.tag = tag
    }

    /// A reader over a section's payload.
    public init(_ section: SnapshotSection) {
        self.init(section.payload[...], tag: section.tag.rawValue)
    }

    public var remaining: Int { storage.endIndex - position }

    public mutating func read<T: FixedWidthInteger>(_ type: T.Type) throws(SnapshotError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw shortBy(size) }
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { target in
            for i in 0..<size { target[i] = storage[position + i] }
        }
        position += size
        return T(littleEndian: value)
    }

    public mutating func bytes(_ count: Int) throws(SnapshotError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw shortBy(count) }
        defer { position += count }
        return Array(storage[position..<position + count])
    }

    /// A run written by `appendSized`, at most `limit` bytes long.
    public mutating func sizedBytes(limit: Int = 1 << 24) throws(SnapshotError) -> [UInt8] {
        let count = Int(try read(UInt32.self))
        guard count <= limit else {
            throw .malformedSection(tag: tag, detail: "a field of \(count) bytes exceeds its limit of \(limit)")
        }
        return try bytes(count)
    }

    /// The caller has read every field it knows: anything left means the section is not
    /// what this Swiftlet wrote.
    public func finish() throws(SnapshotError) {
        guard remaining == 0 else {
            throw .malformedSection(tag: tag, detail: "\(remaining) unexpected bytes at its end")
        }
    }

    private func shortBy(_ wanted: Int) -> SnapshotError {
        .malformedSection(tag: tag, detail: "it ends \(wanted - remaining) bytes early")
    }

    /// A little-endian number at `offset` of `bytes`, which the caller has bounds-checked.
    static func load<T: FixedWidthInteger>(_ type: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { target in
            for i in 0..<MemoryLayout<T>.size { target[i] = bytes[offset + i] }
        }
        return T(littleEndian: value)
    }
}
