import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

/// A virtio-blk device over a temporary file, activated on one mock-driven queue, and a
/// way to send it one request the way Linux's virtio_blk lays them out.
struct VirtioBlockHarness {
    typealias F = VirtioDeviceFixture
    typealias P = VirtioBlockProtocol
    static let header: UInt64 = 0x10000
    static let outData: UInt64 = 0x20000
    static let inData: UInt64 = 0x40000
    static let status: UInt64 = 0x60000

    let fixture: F
    let file: TemporaryFile
    let device: VirtioBlock
    var driver: VirtqueueDriver { fixture.drivers[0] }
    var memory: GuestMemory { fixture.memory }

    /// `features` nil: everything the device offers.
    init(
        bytes: [UInt8], readOnly: Bool = false, features: UInt64? = nil, size: Int64? = nil, indirect: Bool = false
    ) throws {
        fixture = try F(queues: 1, indirect: indirect)
        file = try TemporaryFile(bytes: bytes, size: size)
        device = try VirtioBlock(path: file.path, readOnly: readOnly)
        try device.activate(features: features ?? device.deviceFeatures, queues: fixture.queues)
    }

    struct Reply {
        var status: UInt8
        var used: UInt32
        var data: [UInt8]
        var interrupt: Bool
    }

    /// Sends {type, 0, sector} + `out` (split into `outPieces` buffers) and `inLength`
    /// writable data bytes (split into `inPieces`) followed by a one-byte status.
    func request(
        type: UInt32, sector: UInt64, out: [UInt8] = [], outPieces: Int = 1,
        inLength: Int = 0, inPieces: Int = 1
    ) throws -> Reply {
        try memory.write(type.littleEndian, at: GuestAddress(Self.header))
        try memory.write(UInt32(0), at: GuestAddress(Self.header + 4))
        try memory.write(sector.littleEndian, at: GuestAddress(Self.header + 8))
        try memory.write(bytes: out, at: GuestAddress(Self.outData))
        try memory.fill(0xEE, at: GuestAddress(Self.inData), count: UInt64(inLength))
        try memory.write(UInt8(0xFF), at: GuestAddress(Self.status))
        let readable = [F.buffer(Self.header, 16)] + Self.split(Self.outData, out.count, outPieces)
        let writable = Self.split(Self.inData, inLength, inPieces) + [F.buffer(Self.status, 1)]
        try driver.addChain(readable: readable, writable: writable)
        let interrupt = try device.process(queue: 0)
        let used = try #require(try driver.popUsed())
        return Reply(
            status: try memory.read(UInt8.self, at: GuestAddress(Self.status)), used: used.length,
            data: try memory.readBytes(at: GuestAddress(Self.inData), count: inLength), interrupt: interrupt)
    }

    /// A discard or write-zeroes request with `segments` of (sector, count, flags).
    func zeroRequest(type: UInt32, _ segments: [(UInt64, UInt32, UInt32)]) throws -> Reply {
        var out: [UInt8] = []
        for (sector, count, flags) in segments {
            out += Self.littleEndian(sector, 8) + Self.littleEndian(UInt64(count), 4) + Self.littleEndian(UInt64(flags), 4)
        }
        return try request(type: type, sector: 0, out: out)
    }

    static func littleEndian(_ value: UInt64, _ width: Int) -> [UInt8] {
        (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    /// `count` bytes at `address` as `pieces` buffers of near-equal size, in order.
    static func split(_ address: UInt64, _ count: Int, _ pieces: Int) -> [DescriptorChain.Buffer] {
        guard count > 0 else { return [] }
        let size = (count + pieces - 1) / pieces
        return stride(from: 0, to: count, by: size).map {
            F.buffer(address + UInt64($0), UInt32(min(size, count - $0)))
        }
    }

    /// Bytes that make each sector recognisable: sector s, byte i holds (s * 7 + i) & 0xFF.
    static func pattern(sectors: Int, salt: Int = 0) -> [UInt8] {
        (0..<(sectors * 512)).map { UInt8(truncatingIfNeeded: ($0 / 512) * 7 + $0 + salt) }
    }
}
