#if canImport(Glibc)
import Glibc
#endif

/// The host file or block device behind a virtio disk: an open descriptor, its size in
/// 512-byte sectors, and a serial number. Owns the descriptor.
public final class BlockBackingFile: @unchecked Sendable {
    // @unchecked: the descriptor and the immutable facts below; I/O on it is positioned
    // (pread/pwrite), so it has no shared offset to race on.
    let fd: Int32
    public let path: String
    public let readOnly: Bool
    let isBlockDevice: Bool
    /// Disk size in 512-byte sectors (virtio 1.2 section 5.2.4: capacity).
    public let sectors: UInt64
    /// Bytes at the end of the file that do not fill a sector, and that the guest never sees.
    public let ignoredTrailingBytes: UInt64
    /// 20 bytes for VIRTIO_BLK_T_GET_ID, NUL-padded.
    let serial: [UInt8]

    static let sectorSize: UInt64 = 512
    static let serialLength = 20

    public init(path: String, readOnly: Bool) throws(VirtioBlockError) {
        // O_NONBLOCK so a FIFO given by mistake cannot hang us in open(); it has no effect
        // on regular files and block devices, the only kinds we keep.
        let flags = (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK
        let fd = open(path, flags)
        guard fd >= 0 else { throw Self.openError(errno, path: path, readOnly: readOnly) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = errno
            close(fd)
            throw .system(path: path, operation: "stat", errno: error)
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFBLK else {
            close(fd)
            throw .notAFileOrBlockDevice(path: path)
        }
        // The size of a block device is only visible by seeking to its end.
        let size = lseek(fd, 0, SEEK_END)
        guard size >= 0 else {
            let error = errno
            close(fd)
            throw .system(path: path, operation: "seek", errno: error)
        }
        let bytes = UInt64(size)
        guard bytes >= Self.sectorSize else {
            close(fd)
            throw .tooSmall(path: path, bytes: bytes)
        }
        self.fd = fd
        self.path = path
        self.readOnly = readOnly
        self.isBlockDevice = type == S_IFBLK
        self.sectors = bytes / Self.sectorSize
        self.ignoredTrailingBytes = bytes % Self.sectorSize
        self.serial = Self.serial(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    deinit { close(fd) }

    /// "<st_dev>-<st_ino>" in hex: stable across runs and distinct for every file on the
    /// host, which is what a guest wants from /dev/disk/by-id.
    static func serial(device: UInt64, inode: UInt64) -> [UInt8] {
        let text = Array((String(device, radix: 16) + "-" + String(inode, radix: 16)).utf8)
        let kept = text.suffix(serialLength)  // the inode end is the distinctive one
        return Array(kept) + [UInt8](repeating: 0, count: serialLength - kept.count)
    }

    private static func openError(_ error: Int32, path: String, readOnly: Bool) -> VirtioBlockError {
        switch error {
        case ENOENT, ENOTDIR: return .missing(path: path)
        case EACCES, EPERM: return .permissionDenied(path: path, readOnly: readOnly)
        case EROFS: return .readOnlyFileSystem(path: path)
        case EISDIR, ENXIO: return .notAFileOrBlockDevice(path: path)
        default: return .system(path: path, operation: "open", errno: error)
        }
    }

    /// Pushes everything written so far to storage (data only, as VIRTIO_BLK_T_FLUSH
    /// does); nothing for a read-only disk.
    public func flushToStorage() throws(VirtioBlockError) {
        guard !readOnly else { return }
        while fdatasync(fd) != 0 {
            guard errno == EINTR else { throw .system(path: path, operation: "flush", errno: errno) }
        }
    }
}
