import Testing
import Synchronization
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

@Suite struct VirtioTransportTests {
    typealias F = VirtioTransportFixture
    typealias D = VirtioPCIDriver

    @Test func pciIdentityAndCapabilities() throws {
        let f = try F()
        let config = f.transport.configuration
        #expect(config.read(offset: 0, size: 4) == 0x1044_1AF4)
        #expect(config.read(offset: 8, size: 1) == 1)
        #expect(config.read(offset: 0x2C, size: 4) == 0x0040_1AF4)
        #expect(config.bars == [PCIBAR(index: 0, size: 0x8000, kind: .memory64)])
        let caps = capabilityList { config.read(offset: $0, size: $1) }
        var virtio: [UInt8: (offset: UInt32, length: UInt32, at: Int)] = [:]
        for cap in caps where cap.id == 0x09 {
            #expect(config.read(offset: cap.offset + 4, size: 1) == 0)  // BAR0
            let type = UInt8(config.read(offset: cap.offset + 3, size: 1))
            virtio[type] = (config.read(offset: cap.offset + 8, size: 4), config.read(offset: cap.offset + 12, size: 4), cap.offset)
        }
        #expect(virtio[1]?.offset == 0x0000 && virtio[2]?.offset == 0x3000)
        #expect(virtio[3]?.offset == 0x1000 && virtio[4]?.offset == 0x2000)
        #expect(virtio[5] != nil)
        #expect(virtio[1].map { $0.length >= 0x38 } == true)
        let notify = try #require(virtio[2])
        #expect(config.read(offset: notify.at + 2, size: 1) == 20)  // cap_len
        #expect(config.read(offset: notify.at + 16, size: 4) == 4)  // notify_off_multiplier
        let msix = try #require(caps.first { $0.id == 0x11 })
        #expect(config.read(offset: msix.offset + 2, size: 2) & 0x7FF == 2)  // 3 vectors
        #expect(config.read(offset: msix.offset + 4, size: 4) == 0x4000)
        #expect(config.read(offset: msix.offset + 8, size: 4) == 0x5000)
    }

    @Test func initSequenceActivatesTheDevice() throws {
        let f = try F()
        #expect(f.driver.common(D.numQueues, size: 2) == 2)
        let offered = f.driver.deviceFeatures()
        // The device's own bit 5 passes; its transport bit 34 (packed) is hidden.
        #expect(offered == F.version1 | 1 << 28 | 1 << 29 | 1 << 5)
        f.bringUp()
        #expect(f.driver.status == 0x0F)
        let activation = try #require(f.device.activations.first)
        #expect(f.device.activations.count == 1)
        #expect(activation.features == offered)
        #expect(activation.queues.count == 2)
        for (index, ring) in f.rings.enumerated() {
            let queue = try #require(activation.queues[index])
            #expect(queue.configuration == ring.configuration)
        }
        #expect(f.transport.msixVector(queue: 1) == 2)
        // Queue registers read back, and notify_off is the queue index.
        f.driver.setCommon(D.queueSelect, size: 2, 1)
        #expect(f.driver.common(D.queueSize, size: 2) == 4)
        #expect(f.driver.common(D.queueDesc, size: 8) == f.rings[1].configuration.descriptorTable.value)
        #expect(f.driver.common(D.queueNotifyOff, size: 2) == 1)
        #expect(f.driver.common(D.queueEnable, size: 2) == 1)

        // Kicks reach the device with the right index; used buffers raise the queue's vector.
        f.driver.notify(queue: 1)
        f.driver.notify(queue: 0)
        f.driver.notify(queue: 7)  // no such queue
        #expect(f.device.notified == [1, 0])
        activation.interrupt.signalUsed(queue: 1)
        activation.interrupt.signalConfigChange()
        #expect(f.recorder.signals == [2, 0])
        #expect(f.driver.common(D.configGeneration, size: 1) == 1)
    }

    @Test func featuresOKIsRefusedWithoutVersion1OrWithUnofferedBits() throws {
        let f = try F()
        f.negotiate(1 << 5)
        #expect(f.driver.status & VirtioDeviceStatus.featuresOK == 0)
        f.negotiate(F.version1 | 1 << 6)
        #expect(f.driver.status & VirtioDeviceStatus.featuresOK == 0)
        f.negotiate(F.version1)
        #expect(f.driver.status == 0x0B)
        // Features are frozen once accepted.
        f.driver.setDriverFeatures(F.version1 | 1 << 5)
        #expect(f.transport.driverFeatures == F.version1)
    }

    @Test func driverOKWithoutFeaturesOKNeedsReset() throws {
        let f = try F()
        f.enableMSIX()
        f.driver.setCommon(D.configMSIXVector, size: 2, 0)
        f.driver.addStatus(VirtioDeviceStatus.acknowledge | VirtioDeviceStatus.driver)
        f.driver.addStatus(VirtioDeviceStatus.driverOK)
        #expect(f.driver.status & VirtioDeviceStatus.needsReset != 0)
        #expect(f.device.activations.isEmpty)
        #expect(f.transport.lastError == .driverOKWithoutFeaturesOK)
        #expect(f.recorder.signals == [0])
    }

    @Test func queueSizeNotAPowerOfTwoNeedsReset() throws {
        let f = try F()
        f.enableMSIX()
        f.negotiate(F.version1)
        f.driver.setCommon(D.configMSIXVector, size: 2, 0)
        var configuration = f.rings[0].configuration
        configuration.size = 12
        f.driver.setUpQueue(0, configuration)
        #expect(f.driver.status & VirtioDeviceStatus.needsReset != 0)
        #expect(f.transport.lastError == .queueSizeInvalid(queue: 0, size: 12, max: 16))
        #expect(f.driver.common(D.queueEnable, size: 2) == 0)
        #expect(f.recorder.signals == [0])
        configuration.size = 32  // above the maximum
        f.negotiate(F.version1)
        f.driver.setUpQueue(0, configuration)
        #expect(f.transport.lastError == .queueSizeInvalid(queue: 0, size: 32, max: 16))
    }

    @Test func ringsOutsideRAMNeedReset() throws {
        let f = try F()
        f.negotiate(F.version1)
        var configuration = f.rings[0].configuration
        configuration.usedRing = GuestAddress(0xC000_0000)
        f.driver.setUpQueue(0, configuration)
        f.driver.addStatus(VirtioDeviceStatus.driverOK)
        #expect(f.driver.status & VirtioDeviceStatus.needsReset != 0)
        #expect(f.device.activations.isEmpty)
        guard case .queue(0, .areaOutsideRAM(.usedRing, _, _))? = f.transport.lastError else {
            Issue.record("unexpected error \(String(describing: f.transport.lastError))")
            return
        }
        f.driver.notify(queue: 0)
        #expect(f.device.notified.isEmpty)
    }

    @Test func aDeviceThatFailsToStartNeedsReset() throws {
        let f = try F(device: FakeVirtioDevice(failActivation: true))
        f.bringUp()
        #expect(f.device.activations.count == 1)
        #expect(f.driver.status & VirtioDeviceStatus.needsReset != 0)
        f.driver.notify(queue: 0)
        #expect(f.device.notified.isEmpty)
    }

    @Test func resetClearsEverything() throws {
        let f = try F()
        f.bringUp()
        let stale = try #require(f.device.activations.first).interrupt
        f.driver.setStatus(0)
        #expect(f.driver.status == 0)
        #expect(f.device.resets == 2)  // the bring-up's own reset, then this one
        #expect(f.transport.driverFeatures == 0)
        #expect(f.driver.common(D.configMSIXVector, size: 2) == 0xFFFF)
        for queue in 0..<2 {
            f.driver.setCommon(D.queueSelect, size: 2, UInt64(queue))
            #expect(f.driver.common(D.queueEnable, size: 2) == 0)
            #expect(f.driver.common(D.queueMSIXVector, size: 2) == 0xFFFF)
            #expect(f.driver.common(D.queueDesc, size: 8) == 0)
            #expect(f.driver.common(D.queueSize, size: 2) == UInt64(f.device.queueMaxSizes[queue]))
        }
        // The old activation's interrupts and kicks go nowhere.
        stale.signalUsed(queue: 0)
        stale.signalNeedsReset()
        f.driver.notify(queue: 0)
        #expect(f.recorder.signals.isEmpty)
        #expect(f.device.notified.isEmpty)
        #expect(f.driver.status == 0)
        // And the device comes up again.
        f.bringUp()
        #expect(f.device.activations.count == 2 && f.driver.status == 0x0F)
    }

    @Test func vectorsOutOfRangeReadNoVector() throws {
        let f = try F()
        f.driver.setCommon(D.queueSelect, size: 2, 0)
        f.driver.setCommon(D.queueMSIXVector, size: 2, 3)
        #expect(f.driver.common(D.queueMSIXVector, size: 2) == 0xFFFF)
        f.driver.setCommon(D.queueMSIXVector, size: 2, 2)
        #expect(f.driver.common(D.queueMSIXVector, size: 2) == 2)
        f.driver.setCommon(D.configMSIXVector, size: 2, 0x8000)
        #expect(f.driver.common(D.configMSIXVector, size: 2) == 0xFFFF)
        // A queue that does not exist: size 0, writes ignored.
        f.driver.setCommon(D.queueSelect, size: 2, 9)
        f.driver.setCommon(D.queueSize, size: 2, 4)
        f.driver.setCommon(D.queueEnable, size: 2, 1)
        #expect(f.driver.common(D.queueSize, size: 2) == 0)
        #expect(f.driver.status == 0)
    }

    @Test func oddAccessesTouchExactlyTheirBytes() throws {
        let f = try F()
        #expect(f.driver.common(D.numQueues, size: 1) == 2)
        #expect(f.driver.common(0x12, size: 4) == 2)  // num_queues, status 0, generation 0
        #expect(f.driver.common(0x38, size: 4) == 0)  // unknown offsets
        #expect(f.driver.common(0xFFC, size: 8) == 0)  // crosses the region's end
        f.driver.setCommon(D.queueSelect, size: 2, 0)
        f.driver.setCommon(D.queueDesc, size: 8, 0x1_2345_6780)
        f.driver.setCommon(D.queueDesc + 1, size: 1, 0xAB)
        #expect(f.driver.common(D.queueDesc, size: 8) == 0x1_2345_AB80)
        #expect(f.driver.common(D.queueDesc + 4, size: 4) == 1)
        f.driver.setCommon(0x40, size: 8, UInt64.max)  // unknown: ignored
        f.driver.setCommon(D.deviceFeature, size: 4, 0)  // read-only
        #expect(f.driver.deviceFeatures() & F.version1 != 0)
        #expect(f.transport.barRead(bar: 0, offset: 0x7FFF, size: 2) == 0)
        #expect(f.transport.barRead(bar: 0, offset: UInt64.max, size: 8) == 0)
        #expect(f.transport.barRead(bar: 1, offset: 0, size: 4) == 0)
        f.transport.barWrite(bar: 0, offset: 0x6000, size: 4, value: 1)
    }

    @Test func deviceConfigReadsPastTheEndAreZero() throws {
        let f = try F()
        #expect(f.driver.deviceConfig(0, size: 4) == 0x4433_2211)
        #expect(f.driver.deviceConfig(6, size: 4) == 0x8877)
        #expect(f.driver.deviceConfig(8, size: 8) == 0)
        #expect(f.driver.deviceConfig(0xFF8, size: 8) == 0)
        f.transport.barWrite(bar: 0, offset: VirtioPCILayout.deviceOffset + 2, size: 1, value: 5)
        #expect(f.device.configWriteCount == 1)
    }

    @Test func notifyBeforeDriverOKIsNotForwarded() throws {
        let f = try F()
        f.negotiate(F.version1)
        f.driver.setUpQueue(0, f.rings[0].configuration)
        f.driver.notify(queue: 0)
        #expect(f.device.notified.isEmpty)
        f.driver.addStatus(VirtioDeviceStatus.driverOK)
        f.transport.queueNotified(0)  // the machine's ioeventfd path
        f.transport.queueNotified(1)  // enabled? no: queue 1 was never set up
        f.transport.barWrite(bar: 0, offset: VirtioPCILayout.notifyOffset + 2, size: 2, value: 0)  // misaligned
        #expect(f.device.notified == [0])
        #expect(f.device.activations.first?.queues[1] == nil)
    }

    /// Work a device left past its per-kick budget goes to the machine's doorbell when the
    /// kick came through an MMIO exit, and the activation hands the doorbell on.
    @Test func workLeftAfterAnMMIOKickRingsTheDoorbell() throws {
        let f = try F()
        let rung = Mutex<[Int]>([])
        f.transport.setDoorbell { index in rung.withLock { $0.append(index) } }
        f.bringUp()
        f.driver.notify(queue: 1)
        #expect(rung.withLock { $0 }.isEmpty)
        f.device.workLeft = true
        f.driver.notify(queue: 1)
        #expect(rung.withLock { $0 } == [1])
        #expect(f.transport.queueNotified(0))  // the machine's own path: it rings itself
        #expect(rung.withLock { $0 } == [1])
        f.device.activations.last?.doorbell?(0)
        #expect(rung.withLock { $0 } == [1, 0])
    }

    @Test func isrAndINTxWithoutMSIX() throws {
        let f = try F(intx: true)
        #expect(f.transport.configuration.read(offset: 0x3D, size: 1) == 1)
        f.negotiate(F.version1)
        f.driver.setUpQueue(0, f.rings[0].configuration, vector: 1)
        f.driver.addStatus(VirtioDeviceStatus.driverOK)
        let interrupt = try #require(f.device.activations.first).interrupt
        interrupt.signalUsed(queue: 0)
        #expect(f.line.level)
        interrupt.signalConfigChange()
        #expect(f.driver.readISR() == 3)
        #expect(!f.line.level)
        #expect(f.driver.readISR() == 0)
        #expect(f.recorder.signals.isEmpty)
    }

    @Test func msixMaskingHoldsQueueInterrupts() throws {
        let f = try F()
        f.bringUp()
        let interrupt = try #require(f.device.activations.first).interrupt
        f.driver.programVector(1, masked: true)
        interrupt.signalUsed(queue: 0)
        #expect(f.recorder.signals.isEmpty)
        #expect(f.transport.barRead(bar: 0, offset: VirtioPCILayout.msixPBAOffset, size: 8) == 0b10)
        f.driver.programVector(1, masked: false)
        #expect(f.recorder.signals == [1])
        // A queue left at NO_VECTOR interrupts nothing.
        f.driver.setCommon(D.queueSelect, size: 2, 0)
        f.driver.setCommon(D.queueMSIXVector, size: 2, 0xFFFF)
        interrupt.signalUsed(queue: 0)
        interrupt.signalUsed(queue: 99)
        #expect(f.recorder.signals == [1])
    }

    @Test func pciConfigCapabilityReachesBAR0() throws {
        let f = try F()
        let config = f.transport.configuration
        let cap = try #require(capabilityList { config.read(offset: $0, size: $1) }.first {
            $0.id == 0x09 && config.read(offset: $0.offset + 3, size: 1) == 5
        })
        _ = f.transport.configWrite(offset: cap.offset + 4, size: 1, value: 0)
        _ = f.transport.configWrite(offset: cap.offset + 8, size: 4, value: UInt32(D.numQueues))
        _ = f.transport.configWrite(offset: cap.offset + 12, size: 4, value: 2)
        #expect(f.transport.configRead(offset: cap.offset + 16, size: 4) == 2)
        // Write the status through it; a bad length does nothing.
        _ = f.transport.configWrite(offset: cap.offset + 8, size: 4, value: UInt32(D.deviceStatus))
        _ = f.transport.configWrite(offset: cap.offset + 12, size: 4, value: 1)
        _ = f.transport.configWrite(offset: cap.offset + 16, size: 4, value: 1)
        #expect(f.driver.status == 1)
        _ = f.transport.configWrite(offset: cap.offset + 12, size: 4, value: 3)
        _ = f.transport.configWrite(offset: cap.offset + 16, size: 4, value: 3)
        #expect(f.driver.status == 1)
    }

    @Test func functionResetClearsMSIXAndConfig() throws {
        let f = try F()
        f.bringUp()
        f.transport.reset()
        #expect(f.driver.status == 0)
        #expect(!f.transport.msix.isEnabled)
        #expect(f.transport.configuration.barAddress(0) == 0)
    }

    @Test func badDevicesAreRefused() throws {
        let memory = try GuestMemory(ranges: [(0, 0x1000)])
        #expect(throws: VirtioTransportError.queueMaxSizeInvalid(queue: 1, size: 3)) {
            try VirtioPCIDevice(device: FakeVirtioDevice(queueMaxSizes: [4, 3]), memory: memory, msiDelivery: PCIMSIRecorder())
        }
        #expect(throws: VirtioTransportError.tooManyQueues(256)) {
            try VirtioPCIDevice(
                device: FakeVirtioDevice(queueMaxSizes: Array(repeating: 4, count: 256)), memory: memory,
                msiDelivery: PCIMSIRecorder())
        }
    }
}
