import Testing
import SwiftletDevices
import SwiftletMachine
import SwiftletMemory
import SwiftletSnapshot

@Suite struct DeviceStateEncodingTests {
    private let queue = VirtqueueState(
        configuration: VirtqueueConfiguration(
            size: 256, descriptorTable: GuestAddress(0x10_0000), availRing: GuestAddress(0x10_1000),
            usedRing: GuestAddress(0x10_2000), eventIndex: true, indirectDescriptors: false,
            maxChainBytes: 1 << 20),
        nextAvailIndex: 0xfff0, nextUsedIndex: 0xffee, signalledUsedIndex: 0xffe0, notificationsEnabled: false)

    private func reader(_ bytes: [UInt8]) -> ByteReader {
        ByteReader(SnapshotSection(.device, payload: bytes))
    }

    @Test func aVirtqueueStateRoundTrips() throws {
        var writer = ByteWriter()
        queue.encode(into: &writer)
        var r = reader(writer.bytes)
        #expect(try VirtqueueState(from: &r) == queue)
        try r.finish()
    }

    @Test func aShortOrUnknownVirtqueueStateIsRefused() throws {
        var writer = ByteWriter()
        queue.encode(into: &writer)
        for cut in [0, 1, 20, writer.bytes.count - 1] {
            var r = reader(Array(writer.bytes.prefix(cut)))
            #expect(throws: SnapshotError.self) { try VirtqueueState(from: &r) }
        }
        var bytes = writer.bytes
        bytes[2 + 8 * 4] |= 0x80  // the flags byte: an unknown bit
        var r = reader(bytes)
        #expect(throws: SnapshotError.self) { try VirtqueueState(from: &r) }
    }

    private var pci: VirtioPCIState {
        VirtioPCIState(
            configuration: (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7) },
            msix: MSIXState(table: (0..<48).map { UInt8($0) }, pending: [false, true, false]),
            transport: VirtioTransportState(
                status: 0x0F, deviceFeatureSelect: 1, driverFeatureSelect: 0, driverFeatures: 0x3_0000_0020,
                configMSIXVector: 0, configGeneration: 3, queueSelect: 1,
                queues: [
                    .init(size: 256, msixVector: 1, enabled: true, descriptorTable: 0x10_0000, driverArea: 0x10_1000,
                          deviceArea: 0x10_2000),
                    .init(size: 8, msixVector: 0xFFFF, enabled: false, descriptorTable: 0, driverArea: 0, deviceArea: 0),
                ],
                interruptStatus: 1, live: true, queuePositions: [queue, nil]))
    }

    @Test func aVirtioPCIStateRoundTrips() throws {
        var writer = ByteWriter()
        pci.encode(into: &writer)
        var r = reader(writer.bytes)
        #expect(try VirtioPCIState(from: &r) == pci)
        try r.finish()
        // Every cut short of the end is refused, never read past.
        for cut in stride(from: 0, to: writer.bytes.count, by: 97) {
            var short = reader(Array(writer.bytes.prefix(cut)))
            #expect(throws: SnapshotError.self) { try VirtioPCIState(from: &short) }
        }
    }

    @Test func legacyStatesRoundTrip() throws {
        let uart = Serial8250State(
            ier: 1, lcr: 3, mcr: 0x0B, scr: 0x5A, divisorLow: 1, divisorHigh: 0, fifosEnabled: true,
            thrInterruptPending: false, overrun: true, msrDeltas: 2, input: Array("hello".utf8))
        let cmos = CMOSRTCState(index: 0x40, ram: (0..<128).map { UInt8($0) })
        var writer = ByteWriter()
        uart.encode(into: &writer)
        cmos.encode(into: &writer)
        var r = reader(writer.bytes)
        #expect(try Serial8250State(from: &r) == uart)
        #expect(try CMOSRTCState(from: &r) == cmos)
        try r.finish()

        var short = ByteWriter()
        CMOSRTCState(index: 0, ram: [1, 2]).encode(into: &short)
        var s = reader(short.bytes)
        #expect(throws: SnapshotError.self) { try CMOSRTCState(from: &s) }
    }

    @Test func deviceSectionsRoundTripAndRefuseWhatIsNotOurs() throws {
        let devices = [
            DeviceSnapshot(name: "virtio-blk-rootfs", state: .virtioPCI(pci)),
            DeviceSnapshot(name: "virtio-rng", state: .virtioMMIO(pci.transport)),
            DeviceSnapshot(name: "com1", state: .cmos(CMOSRTCState(index: 0, ram: Array(repeating: 7, count: 128)))),
        ]
        for device in devices {
            #expect(try DeviceSnapshot(device.section) == device)
            var section = device.section
            section.payload.append(0)  // a byte past what was written
            #expect(throws: SnapshotError.self) { try DeviceSnapshot(section) }
            section = device.section
            section.payload[0] = 9  // an unknown kind
            #expect(throws: SnapshotError.self) { try DeviceSnapshot(section) }
        }
        #expect(throws: SnapshotError.self) { try DeviceSnapshot(SnapshotSection(.config, payload: [1])) }
    }
}
