#if canImport(Glibc)
import Glibc
#endif
import SwiftletMemory

/// A kernel or initrd file on the host, open for reading. Errors name the file and its
/// role, so the user sees "initrd /x: No such file or directory" and nothing else.
final class HostFile {
    let role: BootFileRole
    let path: String
    let size: UInt64
    private let descriptor: Int32

    init(_ path: String, role: BootFileRole) throws(BootError) {
        self.role = role
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.failure(role, path, errno) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let error = errno
            close(fd)
            throw Self.failure(role, path, error)
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw .unreadable(role, path: path, reason: "not a regular file")
        }
        descriptor = fd
        size = UInt64(status.st_size)
    }

    deinit { close(descriptor) }

    /// The whole file, refusing one larger than `limit` before allocating.
    func readAll(limit: UInt64) throws(BootError) -> [UInt8] {
        guard size <= limit else { throw .badKernel(path: path, .tooLarge(size)) }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let complete = bytes.withUnsafeMutableBytes { buffer in readFully(into: buffer) }
        if let failure = complete { throw failure }
        return bytes
    }

    /// Reads the whole file straight into guest RAM at `address`, which the caller
    /// has checked has room.
    func read(into memory: GuestMemory, at address: GuestAddress) throws(BootError) {
        let outcome: BootError?
        do {
            outcome = try memory.withBytes(at: address, count: size) { buffer in readFully(into: buffer) }
        } catch let error as GuestMemoryError {
            throw .guestMemory(error)
        } catch {
            throw .unreadable(role, path: path, reason: "\(error)")
        }
        if let outcome { throw outcome }
    }

    /// pread until the buffer is full; nil on success.
    private func readFully(into buffer: UnsafeMutableRawBufferPointer) -> BootError? {
        var done = 0
        while done < buffer.count {
            let count = pread(descriptor, buffer.baseAddress.map { $0 + done }, buffer.count - done, off_t(done))
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return Self.failure(role, path, errno) }
            if count == 0 { return .unreadable(role, path: path, reason: "file shrank while being read") }
            done += count
        }
        return nil
    }

    private static func failure(_ role: BootFileRole, _ path: String, _ error: Int32) -> BootError {
        .unreadable(role, path: path, reason: String(cString: strerror(error)))
    }
}
