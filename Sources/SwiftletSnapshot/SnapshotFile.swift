#if canImport(Glibc)
import Glibc
#endif

/// Reading and writing a state file on disk.
public enum SnapshotFile {
    /// Writes `sections` to `path` whole or not at all: into a temporary file beside it,
    /// flushed, then renamed over `path`, so a crash mid-save never leaves a file that
    /// looks like a snapshot but is half of one.
    public static func write(_ sections: [SnapshotSection], to path: String) throws(SnapshotError) {
        let bytes = SnapshotFormat.encode(sections)
        let temporary = path + ".partial"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(path: temporary, operation: "create", errno: errno) }
        do throws(SnapshotError) {
            defer { close(fd) }
            try writeAll(fd, bytes, path: temporary)
            guard fsync(fd) == 0 else { throw SnapshotError.io(path: temporary, operation: "flush", errno: errno) }
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

    /// The sections of the state file at `path`, checked whole (see `SnapshotFormat.decode`).
    public static func read(_ path: String, known: Set<SectionTag>) throws(SnapshotError) -> [SnapshotSection] {
        try SnapshotFormat.decode(try readAll(path), known: known)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SnapshotError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { all in
                let rest = UnsafeRawBufferPointer(rebasing: all[done...])
                return Glibc.write(fd, rest.baseAddress, rest.count)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "write", errno: errno)
            }
            done += n
        }
    }

    /// A state file is at most a few MiB (vCPU and device state, never RAM), so it is read
    /// whole; the cap keeps a wrong path (a disk image, say) from filling memory.
    static let maximumSize = 64 << 20

    static func readAll(_ path: String) throws(SnapshotError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
            guard bytes.count <= maximumSize else { throw .io(path: path, operation: "read (over 64 MiB)", errno: EFBIG) }
        }
    }
}
