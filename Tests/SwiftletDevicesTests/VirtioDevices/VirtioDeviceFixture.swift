#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

/// One megabyte of guest RAM with `count` mock-driven queues at 0x1000, 0x2000, ...;
/// buffers go from 0x10000 up.
struct VirtioDeviceFixture {
    static let ramSize: UInt64 = 0x10_0000
    let memory: GuestMemory
    let drivers: [VirtqueueDriver]
    let queues: [Virtqueue]

    init(queues count: Int, size: UInt16 = 16, eventIndex: Bool = false, indirect: Bool = false) throws {
        memory = try GuestMemory(ranges: [(0, Self.ramSize)])
        var drivers: [VirtqueueDriver] = []
        var queues: [Virtqueue] = []
        for index in 0..<count {
            let driver = try VirtqueueDriver(
                memory: memory, size: size, at: GuestAddress(0x1000 * UInt64(index + 1)), eventIndex: eventIndex,
                indirectDescriptors: indirect)
            drivers.append(driver)
            queues.append(try Virtqueue(memory: memory, configuration: driver.configuration))
        }
        self.drivers = drivers
        self.queues = queues
    }

    static func buffer(_ address: UInt64, _ length: UInt32) -> DescriptorChain.Buffer {
        DescriptorChain.Buffer(address: GuestAddress(address), length: length)
    }
}

/// A file in /tmp, removed when the value goes away.
final class TemporaryFile {
    let path: String

    init(bytes: [UInt8] = [], size: Int64? = nil) throws {
        var template = Array("/tmp/swiftlet-vdev-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard fd >= 0 else { throw TestFailure("mkstemp failed") }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw TestFailure("writing \(path) failed") }
        if let size, ftruncate(fd, off_t(size)) != 0 { throw TestFailure("truncating \(path) failed") }
    }

    deinit { unlink(path) }

    var contents: [UInt8] { contents(limit: .max) }

    /// The file's first `limit` bytes (or all of a shorter file).
    func contents(limit: Int) -> [UInt8] {
        guard let file = fopen(path, "rb") else { return [] }
        defer { fclose(file) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while result.count < limit {
            let want = min(chunk.count, limit - result.count)
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, want, file) }
            if count == 0 { break }
            result += chunk[0..<count]
        }
        return result
    }

    /// 512-byte blocks the file occupies on disk (st_blocks).
    var allocatedBlocks: Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_blocks) : -1
    }

    var size: Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : -1
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Collects what a device hands its output sink.
final class OutputRecorder: Sendable {
    private let bytes = Mutex<[UInt8]>([])
    private let calls = Mutex(0)

    var sink: @Sendable ([UInt8]) -> Void {
        { [self] data in
            bytes.withLock { $0 += data }
            calls.withLock { $0 += 1 }
        }
    }
    var recorded: [UInt8] { bytes.withLock { $0 } }
    var callCount: Int { calls.withLock { $0 } }
}

/// Counts calls of a callback.
final class CallCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
