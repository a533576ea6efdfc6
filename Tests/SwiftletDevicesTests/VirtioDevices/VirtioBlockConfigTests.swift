import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

@Suite struct VirtioBlockConfigTests {
    typealias H = VirtioBlockHarness
    typealias P = VirtioBlockProtocol

    @Test func capacityIsWholeSectorsOfTheFile() throws {
        let h = try H(bytes: [UInt8](repeating: 1, count: 8 * 512 + 100))
        #expect(h.device.capacity == 8)
        #expect(h.device.ignoredTrailingBytes == 100)
        #expect(h.device.configRead(offset: 0, size: 8) == 8)
        #expect(h.device.configRead(offset: 0, size: 4) == 8)
        #expect(h.device.configRead(offset: 4, size: 4) == 0)
        // The trailing bytes are out of the guest's reach.
        #expect(try h.request(type: P.typeIn, sector: 8, inLength: 512).status == P.statusIOError)

        let exact = try H(bytes: [UInt8](repeating: 1, count: 3 * 512))
        #expect(exact.device.capacity == 3 && exact.device.ignoredTrailingBytes == 0)
        let big = try H(bytes: [], size: 5 << 30)
        #expect(big.device.configRead(offset: 0, size: 8) == (5 << 30) / 512)
    }

    @Test func configFieldsSitAtTheSpecOffsets() throws {
        let h = try H(bytes: [UInt8](repeating: 1, count: 4096))
        let d = h.device
        #expect(d.configRead(offset: 8, size: 4) == UInt64(VirtioBlock.sizeMax))
        #expect(d.configRead(offset: 12, size: 4) == UInt64(VirtioBlock.segMax))
        #expect(d.configRead(offset: 20, size: 4) == 512)
        #expect(d.configRead(offset: 36, size: 4) == UInt64(VirtioBlock.maxDiscardSectors))
        #expect(d.configRead(offset: 40, size: 4) == UInt64(VirtioBlock.maxDiscardSegments))
        #expect(d.configRead(offset: 44, size: 4) == UInt64(VirtioBlock.discardSectorAlignment))
        #expect(d.configRead(offset: 48, size: 4) == UInt64(VirtioBlock.maxDiscardSectors))
        #expect(d.configRead(offset: 52, size: 4) == UInt64(VirtioBlock.maxDiscardSegments))
        #expect(d.configRead(offset: 56, size: 1) == 1)
        // Byte-wise reads agree with wide ones.
        #expect(d.configRead(offset: 20, size: 1) == 0 && d.configRead(offset: 21, size: 1) == 2)
        // Past the end, or partly past it: zeros.
        #expect(d.configRead(offset: 60, size: 4) == 0)
        #expect(d.configRead(offset: 0x1000, size: 8) == 0)
        #expect(d.configRead(offset: -1, size: 4) == 0)
        #expect(d.configRead(offset: Int.max, size: 8) == 0)
        // Writes change nothing.
        d.configWrite(offset: 0, size: 8, value: 12345)
        #expect(d.configRead(offset: 0, size: 8) == 8)
    }

    @Test func offersTheFeaturesItServes() throws {
        let h = try H(bytes: [UInt8](repeating: 1, count: 4096))
        #expect(h.device.deviceID == 2)
        #expect(h.device.queueMaxSizes.count == 1)
        let expected = P.featureSizeMax | P.featureSegMax | P.featureBlockSize | P.featureFlush
            | P.featureDiscard | P.featureWriteZeroes
        #expect(h.device.deviceFeatures == expected)
        #expect(h.device.deviceFeatures & ~UInt64(0xFF_FFFF) == 0)  // device bits only
    }

    @Test func activationWantsOneQueue() throws {
        let h = try H(bytes: [UInt8](repeating: 1, count: 4096))
        #expect(throws: VirtioDeviceError.queueCount(device: "block", expected: 1, got: 0)) {
            try h.device.activate(features: 0, queues: [])
        }
    }

    @Test func openingFailsWithAOneLineReason() throws {
        #expect(throws: VirtioBlockError.missing(path: "/nonexistent/disk.img")) {
            try VirtioBlock(path: "/nonexistent/disk.img")
        }
        #expect(throws: VirtioBlockError.notAFileOrBlockDevice(path: "/tmp")) { try VirtioBlock(path: "/tmp") }
        #expect(throws: VirtioBlockError.notAFileOrBlockDevice(path: "/tmp")) {
            try VirtioBlock(path: "/tmp", readOnly: true)
        }
        #expect(throws: VirtioBlockError.notAFileOrBlockDevice(path: "/dev/null")) {
            try VirtioBlock(path: "/dev/null", readOnly: true)
        }
        let empty = try TemporaryFile()
        #expect(throws: VirtioBlockError.tooSmall(path: empty.path, bytes: 0)) { try VirtioBlock(path: empty.path) }
        #expect(VirtioBlockError.missing(path: "/x").description == "disk /x: no such file")
        #expect(VirtioBlockError.permissionDenied(path: "/x", readOnly: false).description
                == "disk /x: permission denied (opening it read-write)")
    }
}
