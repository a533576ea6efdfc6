#if canImport(Glibc)
import Glibc
#endif
import SwiftletMemory

/// A virtio entropy device (virtio 1.2 section 5.4): one request queue whose writable
/// buffers we fill from the host's /dev/urandom (never blocks once the kernel's pool is
/// initialised, which it is long before a VMM runs). Swift's Glibc module does not
/// export getrandom(2), and syscall(2) is variadic, so a descriptor opened once it is.
///
/// Threading: serves one event-loop thread, like `Virtqueue`.
public final class VirtioRng: VirtioDeviceCore, @unchecked Sendable {
    public static let deviceID: UInt16 = 4
    public static let queueSize: UInt16 = 256
    /// Most bytes one request gets: a driver asking for a gigabyte gets this much, the
    /// used length says so, and the event loop is not held up.
    public static let maxBytesPerRequest = 64 * 1024

    private let source: Int32
    private var queue: Virtqueue?

    /// Opens the entropy source: /dev/urandom, or another file for tests.
    public init(sourcePath: String = "/dev/urandom") throws(VirtioRngError) {
        let fd = open(sourcePath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: sourcePath, errno: errno) }
        source = fd
    }

    deinit { close(source) }

    // MARK: VirtioDeviceCore

    public var deviceID: UInt16 { Self.deviceID }
    public var queueMaxSizes: [UInt16] { [Self.queueSize] }
    public var deviceFeatures: UInt64 { 0 }
    /// The entropy device has no configuration (5.4.4).
    public func configRead(offset: Int, size: Int) -> UInt64 { 0 }
    public func configWrite(offset: Int, size: Int, value: UInt64) {}

    public func activate(features: UInt64, queues: [Virtqueue]) throws(VirtioDeviceError) {
        guard queues.count == 1 else { throw .queueCount(device: "entropy", expected: 1, got: queues.count) }
        queue = queues[0]
    }

    public func reset() { queue = nil }

    public func process(queue index: Int) throws(VirtqueueError) -> Bool {
        guard index == 0, let queue else { return false }
        return try queue.serviceAvailable { (chain) throws(VirtqueueError) in
            var writer = ChainWriter(memory: queue.memory, chain: chain)
            let count = min(writer.remaining, Self.maxBytesPerRequest)
            do {
                try writer.withIOVectors(count: count) { buffers in ScatterIO.read(source, into: buffers).moved }
            } catch let error as VirtqueueError {
                throw error
            } catch let error as GuestMemoryError {
                throw .memory(error)
            } catch {
                return 0  // the body does not throw; nothing else can come
            }
            return writer.usedLength  // fewer bytes if the source failed: the driver asks again
        }
    }
}

/// Why the entropy source could not be opened.
public enum VirtioRngError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let errno):
            return "entropy source \(path): \(String(cString: strerror(errno)))"
        }
    }
}
