import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

/// virtio-blk requests as Linux's virtio_blk lays them out (a 16-byte header, one data
/// buffer, a status byte) on a real file, served by `VirtioBlock` through the virtqueue
/// engine. Only the device's work is timed: the driver fills the ring, then
/// `process(queue:)` serves the whole batch, as after one kick.
///
/// The device does buffered, synchronous preadv/pwritev (ScatterIO), one request after
/// another, so its host-side peer is fio's pvsync engine with direct=0 at iodepth 1.
struct BlockBenchmark {
    enum Pattern: String {
        case randread, randwrite
        /// Sequential reads, wrapping at the end of the file.
        case read
    }

    typealias P = VirtioBlockProtocol
    // Guest-physical layout of the fake RAM.
    static let queueBase: UInt64 = 0x1000
    static let headers: UInt64 = 0x10000
    static let statuses: UInt64 = 0x20000
    static let data: UInt64 = 0x100000

    let path: String
    let pattern: Pattern
    let blockSize: Int
    let requests: Int
    let batch: Int
    let seed: UInt64

    init(_ options: Options) throws(DevbenchError) {
        path = try options.string("file")
        pattern = try options.choice("pattern", Pattern.self)
        blockSize = try options.integer("bs", in: 512...(Int(VirtioBlock.sizeMax)))
        guard blockSize % 512 == 0 else { throw DevbenchError("--bs \(blockSize): not a whole number of sectors") }
        requests = try options.integer("requests")
        // Three descriptors a request: a batch must fit the ring.
        batch = try options.integer("batch", default: 64, in: 1...(Int(VirtioBlock.queueSize) / 3))
        seed = UInt64(try options.integer("seed", default: 1, in: 0...Int.max))
    }

    func run() throws -> JSONObject {
        let device = try VirtioBlock(path: path)
        let blocks = device.capacity * 512 / UInt64(blockSize)
        guard blocks > 0 else { throw DevbenchError("\(path): smaller than one \(blockSize)-byte block") }
        let dataBytes = (UInt64(batch * blockSize) + 0xFFF) & ~0xFFF
        let memory = try GuestMemory(ranges: [(0, Self.data + dataBytes)])
        // The guest's buffers are resident before the clock starts, as a running guest's are
        // (and as fio's are).
        try memory.fill(0xA5, at: GuestAddress(Self.data), count: dataBytes)
        let driver = try VirtqueueDriver(
            memory: memory, size: VirtioBlock.queueSize, at: GuestAddress(Self.queueBase), eventIndex: true)
        let queue = try Virtqueue(memory: memory, configuration: driver.configuration)
        try device.activate(features: device.deviceFeatures, queues: [queue])

        var random = SplitMix64(seed: seed)
        var nextSequential: UInt64 = 0
        var seconds = 0.0
        var done = 0
        while done < requests {
            let count = min(batch, requests - done)
            for slot in 0..<count {
                let block: UInt64
                if pattern == .read {
                    block = nextSequential % blocks
                    nextSequential += 1
                } else {
                    block = random.next() % blocks
                }
                try queueRequest(slot, block: block, driver: driver, memory: memory)
            }
            try driver.publish()
            let start = monotonicSeconds()
            _ = try device.process(queue: 0)
            seconds += monotonicSeconds() - start
            for slot in 0..<count {
                guard let used = try driver.popUsed() else {
                    throw DevbenchError("the device returned \(slot) of \(count) requests")
                }
                let status = try memory.read(UInt8.self, at: GuestAddress(Self.statuses + UInt64(slot)))
                guard status == P.statusOK, used.length == (pattern == .randwrite ? 1 : UInt32(blockSize + 1)) else {
                    throw DevbenchError("request failed: status \(status), used length \(used.length)")
                }
            }
            done += count
        }
        let bytes = Double(requests) * Double(blockSize)
        return JSONObject(fields: [
            ("bench", .string("blk")), ("pattern", .string(pattern.rawValue)), ("bs", .integer(blockSize)),
            ("requests", .integer(requests)), ("batch", .integer(batch)), ("seconds", .number(seconds)),
            ("us_per_request", .number(seconds * 1e6 / Double(requests))),
            ("iops", .number(Double(requests) / seconds)), ("mib_per_s", .number(bytes / seconds / 1_048_576)),
        ])
    }

    /// Request `slot` of a batch: its header, data buffer and status at fixed places.
    private func queueRequest(_ slot: Int, block: UInt64, driver: VirtqueueDriver, memory: GuestMemory) throws {
        let header = Self.headers + 16 * UInt64(slot)
        let status = Self.statuses + UInt64(slot)
        let data = DescriptorChain.Buffer(
            address: GuestAddress(Self.data + UInt64(slot * blockSize)), length: UInt32(blockSize))
        let writing = pattern == .randwrite
        try memory.write((writing ? P.typeOut : P.typeIn).littleEndian, at: GuestAddress(header))
        try memory.write(UInt32(0), at: GuestAddress(header + 4))
        try memory.write((block * UInt64(blockSize) / 512).littleEndian, at: GuestAddress(header + 8))
        try memory.write(UInt8(0xFF), at: GuestAddress(status))
        let head = DescriptorChain.Buffer(address: GuestAddress(header), length: 16)
        let tail = DescriptorChain.Buffer(address: GuestAddress(status), length: 1)
        try driver.addChain(
            readable: writing ? [head, data] : [head], writable: writing ? [tail] : [data, tail], publish: false)
    }
}
