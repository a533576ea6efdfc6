#if canImport(Glibc)
import Glibc
#endif
import SwiftletMemory

/// Guest RAM on disk: a file beside the state file holding every region back to back in
/// address order, byte for byte, so that a restore can map it (see
/// `GuestMemory.init(ranges:mappingFile:)`) instead of reading it.
public enum MemoryFile {
    public static let pageSize = 4096

    /// Writes `memory` to `path`. The vCPUs must be paused (a running guest would change
    /// pages under the copy).
    ///
    /// `sparse` skips pages that are all zero, leaving holes the file system reads back
    /// as zeros: a guest that used little of its RAM costs little disk. Whole writes
    /// every byte. Both end with fsync, so a snapshot that says it is saved is.
    ///
    /// The bytes go to a new file renamed over `path` at the end, never into the file at
    /// `path`: that file may be the one this very VM was restored from, still mapped as its
    /// RAM, and truncating it would turn every page the guest has not yet touched into
    /// SIGBUS. The rename leaves the old file alive for as long as it is mapped.
    public static func write(_ memory: GuestMemory, to path: String, sparse: Bool = true) throws(SnapshotError) {
        let temporary = path + ".partial"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(path: temporary, operation: "create", errno: errno) }
        do throws(SnapshotError) {
            defer { close(fd) }
            try writeRegions(memory, fd, sparse: sparse, path: temporary)
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = errno
            unlink(temporary)
            throw .io(path: path, operation: "rename \(temporary) to", errno: error)
        }
    }

    private static func writeRegions(_ memory: GuestMemory, _ fd: Int32, sparse: Bool, path: String) throws(SnapshotError) {
        guard ftruncate(fd, off_t(memory.size)) == 0 else { throw .io(path: path, operation: "size", errno: errno) }
        do {
            try memory.forEachRegionInFileOrder { _, fileOffset, bytes in
                if sparse {
                    try writeNonZeroPages(fd, bytes, at: fileOffset, path: path)
                } else {
                    try writeAll(fd, bytes, at: fileOffset, path: path)
                }
            }
        } catch let error as SnapshotError {
            throw error
        } catch {
            throw .io(path: path, operation: "write", errno: EIO)
        }
        guard fsync(fd) == 0 else { throw .io(path: path, operation: "flush", errno: errno) }
    }

    /// Maps the memory file at `path` as guest RAM laid out as `layout`, privately.
    public static func map(_ path: String, layout: GuestRAMLayout) throws(SnapshotError) -> GuestMemory {
        do {
            return try GuestMemory(ranges: layout.ranges.map { (start: $0.start, size: $0.size) }, mappingFile: path)
        } catch {
            throw .memoryFile("\(error)")
        }
    }

    /// Writes each run of pages that are not all zero; the runs between stay holes.
    static func writeNonZeroPages(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at fileOffset: Int, path: String) throws(SnapshotError) {
        var runStart: Int? = nil
        var page = 0
        while page < bytes.count {
            let end = min(page + pageSize, bytes.count)
            let zero = isZero(UnsafeRawBufferPointer(rebasing: bytes[page..<end]))
            if zero, let start = runStart {
                try writeAll(fd, UnsafeRawBufferPointer(rebasing: bytes[start..<page]), at: fileOffset + start, path: path)
                runStart = nil
            } else if !zero, runStart == nil {
                runStart = page
            }
            page = end
        }
        if let start = runStart {
            try writeAll(fd, UnsafeRawBufferPointer(rebasing: bytes[start...]), at: fileOffset + start, path: path)
        }
    }

    /// Whether `bytes` are all zero, a page at a time with libc's memcmp (a byte loop in
    /// Swift costs seconds per GiB in a debug build).
    static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        zeroPage.withUnsafeBytes { zero in
            guard let zero = zero.baseAddress else { return false }
            var offset = 0
            while offset < bytes.count {
                let count = min(pageSize, bytes.count - offset)
                guard let base = bytes.baseAddress, memcmp(base + offset, zero, count) == 0 else { return false }
                offset += count
            }
            return true
        }
    }

    private static let zeroPage = [UInt8](repeating: 0, count: pageSize)

    /// pwrite until done, in pieces the kernel takes whole (it caps one call near 2 GiB).
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at fileOffset: Int, path: String) throws(SnapshotError) {
        var done = 0
        while done < bytes.count {
            let piece = UnsafeRawBufferPointer(rebasing: bytes[done..<min(done + (64 << 20), bytes.count)])
            let n = pwrite(fd, piece.baseAddress, piece.count, off_t(fileOffset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", errno: errno)
            }
            done += n
        }
    }
}

/// The MEM section: guest RAM's regions, which the memory file holds back to back.
public struct GuestRAMLayout: Equatable, Sendable {
    public struct Range: Equatable, Sendable {
        public var start: UInt64
        public var size: UInt64
        public init(start: UInt64, size: UInt64) { self.start = start; self.size = size }
    }
    public var ranges: [Range]

    public init(ranges: [Range]) { self.ranges = ranges }

    public init(_ memory: GuestMemory) {
        ranges = memory.regions.map { Range(start: $0.start.value, size: $0.size) }
    }

    public var section: SnapshotSection {
        var out = ByteWriter()
        out.append(UInt32(ranges.count))
        for range in ranges {
            out.append(range.start)
            out.append(range.size)
        }
        return SnapshotSection(.memory, payload: out.bytes)
    }

    /// Reads the section and checks what GuestMemory assumes: sorted, page-aligned,
    /// non-overlapping ranges below 2^52, since the file's bytes are about to become RAM.
    public init(_ section: SnapshotSection) throws(SnapshotError) {
        var reader = ByteReader(section)
        let count = try reader.read(UInt32.self)
        guard count <= 64 else { throw .malformedSection(tag: section.tag.rawValue, detail: "\(count) RAM ranges") }
        var ranges: [Range] = []
        var end: UInt64 = 0
        let page = UInt64(MemoryFile.pageSize), limit: UInt64 = 1 << 52
        for _ in 0..<count {
            let start = try reader.read(UInt64.self), size = try reader.read(UInt64.self)
            guard start % page == 0, size % page == 0, size > 0, start >= end, start < limit, size <= limit - start else {
                throw .malformedSection(tag: section.tag.rawValue, detail: "RAM range 0x\(String(start, radix: 16))+0x\(String(size, radix: 16)) is not page-aligned, ordered and below 2^52")
            }
            ranges.append(Range(start: start, size: size))
            end = start + size
        }
        try reader.finish()
        self.ranges = ranges
    }
}
