#if canImport(Glibc)
import Glibc
#endif
import SwiftletMemory

/// Executing one virtio-blk request (virtio 1.2 section 5.2.6). The guest wrote every
/// field, so each is checked; a bad request fails with a status byte and the device
/// carries on with the next one.
extension VirtioBlock {
    private typealias P = VirtioBlockProtocol

    /// Serves `chain` and returns the used length: bytes written to the guest, the status
    /// byte included; 0 when the chain has no room for a status, as nothing can be said.
    func serve(_ chain: DescriptorChain, memory: GuestMemory) throws(VirtqueueError) -> UInt32 {
        // The status is the very last device-writable byte; data buffers come before it.
        guard let last = chain.writable.last, last.length > 0 else { return 0 }
        // No wrap: the walker checked the buffer lies in RAM.
        let statusAddress = GuestAddress(last.address.value &+ UInt64(last.length - 1))
        var body = chain
        body.writable[body.writable.count - 1].length -= 1
        var reader = ChainReader(memory: memory, chain: body)
        var writer = ChainWriter(memory: memory, chain: body)
        let status = execute(&reader, &writer)
        do { try memory.write(status, at: statusAddress) } catch { throw .memory(error) }
        return UInt32(clamping: writer.bytesWritten + 1)
    }

    private func execute(_ reader: inout ChainReader, _ writer: inout ChainWriter) -> UInt8 {
        let type: UInt32
        let sector: UInt64
        do {
            type = UInt32(littleEndian: try reader.readObject(UInt32.self))
            try reader.skip(4)  // reserved (once ioprio)
            sector = UInt64(littleEndian: try reader.readObject(UInt64.self))
        } catch {
            return P.statusIOError  // shorter than a header
        }
        switch type {
        case P.typeIn: return read(sector: sector, into: &writer)
        case P.typeOut: return write(sector: sector, from: &reader)
        case P.typeFlush: return flush()
        case P.typeGetID: return identify(into: &writer)
        case P.typeDiscard where negotiated & P.featureDiscard != 0:
            return zero(&reader, discard: true)
        case P.typeWriteZeroes where negotiated & P.featureWriteZeroes != 0:
            return zero(&reader, discard: false)
        default:
            return P.statusUnsupported
        }
    }

    /// The file offset of `sectors` sectors from `sector`, if they lie wholly on the disk.
    private func fileOffset(sector: UInt64, sectors: UInt64) -> Int64? {
        let capacity = self.capacity
        guard sector <= capacity, sectors <= capacity - sector else { return nil }
        // capacity * 512 is at most the file size, which fits in Int64.
        return Int64(sector * BlockBackingFile.sectorSize)
    }

    /// The file offset for a transfer of `bytes` at `sector`: whole sectors on the disk.
    private func fileOffset(sector: UInt64, bytes: Int) -> Int64? {
        guard bytes % Int(BlockBackingFile.sectorSize) == 0 else { return nil }
        return fileOffset(sector: sector, sectors: UInt64(bytes) / BlockBackingFile.sectorSize)
    }

    /// VIRTIO_BLK_T_IN: every writable byte before the status is data.
    private func read(sector: UInt64, into writer: inout ChainWriter) -> UInt8 {
        let length = writer.remaining
        guard let offset = fileOffset(sector: sector, bytes: length) else { return P.statusIOError }
        var outcome = ScatterIO.Outcome(moved: 0, error: 0)
        do {
            try writer.withIOVectors(count: length) { buffers in
                outcome = ScatterIO.read(file.fd, into: buffers, at: offset)
                return outcome.moved
            }
        } catch {
            return P.statusIOError
        }
        return outcome.error == 0 ? P.statusOK : P.statusIOError
    }

    /// VIRTIO_BLK_T_OUT: every readable byte after the header is data.
    private func write(sector: UInt64, from reader: inout ChainReader) -> UInt8 {
        // 5.2.6.2: IOERR for a write to a read-only disk, and no data written.
        guard !readOnly else { return P.statusIOError }
        let length = reader.remaining
        guard let offset = fileOffset(sector: sector, bytes: length) else { return P.statusIOError }
        var outcome = ScatterIO.Outcome(moved: 0, error: 0)
        do {
            try reader.withIOVectors(count: length) { buffers in
                outcome = ScatterIO.write(file.fd, from: buffers, at: offset)
                return outcome.moved
            }
        } catch {
            return P.statusIOError
        }
        return outcome.error == 0 ? P.statusOK : P.statusIOError
    }

    /// VIRTIO_BLK_T_FLUSH: data, not metadata such as times, as lguest's barriers did.
    private func flush() -> UInt8 {
        while fdatasync(file.fd) != 0 {
            if errno != EINTR { return P.statusIOError }
        }
        return P.statusOK
    }

    /// VIRTIO_BLK_T_GET_ID: up to 20 bytes of serial, as many as the driver gave room for.
    private func identify(into writer: inout ChainWriter) -> UInt8 {
        let count = min(writer.remaining, BlockBackingFile.serialLength)
        do { try writer.write(bytes: Array(serial.prefix(count))) } catch { return P.statusIOError }
        return P.statusOK
    }

    /// VIRTIO_BLK_T_DISCARD and VIRTIO_BLK_T_WRITE_ZEROES: a list of ranges, all checked
    /// before any is touched, so a bad list changes nothing.
    private func zero(_ reader: inout ChainReader, discard: Bool) -> UInt8 {
        guard !readOnly else { return P.statusIOError }
        let length = reader.remaining
        guard length > 0, length % P.segmentSize == 0 else { return P.statusIOError }
        let count = length / P.segmentSize
        guard count <= Int(Self.maxDiscardSegments) else { return P.statusIOError }
        // 5.2.6.2: unknown flags are UNSUPP, and so is unmap on a discard.
        let allowedFlags = discard ? 0 : P.segmentUnmap
        var ranges: [(offset: Int64, length: Int64, unmap: Bool)] = []
        for _ in 0..<count {
            guard let bytes = try? reader.readBytes(count: P.segmentSize) else { return P.statusIOError }
            let segment = VirtioBlockSegment(bytes)
            guard segment.flags & ~allowedFlags == 0 else { return P.statusUnsupported }
            guard segment.sectors <= Self.maxDiscardSectors,
                  let offset = fileOffset(sector: segment.sector, sectors: UInt64(segment.sectors))
            else { return P.statusIOError }
            ranges.append((offset, Int64(segment.sectors) * Int64(BlockBackingFile.sectorSize),
                           segment.flags & P.segmentUnmap != 0))
        }
        for range in ranges {
            // Discard may deallocate; write-zeroes may only when the driver allowed unmap.
            // Either way the range reads back as zeroes.
            let mode = discard || range.unmap ? FileSpace.punchHole : FileSpace.zeroRange
            guard FileSpace.zero(file.fd, offset: range.offset, length: range.length, mode: mode | FileSpace.keepSize) == 0
            else { return P.statusIOError }
        }
        return P.statusOK
    }
}
