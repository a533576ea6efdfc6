import Testing
import Synchronization
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

/// A fake device behind virtio-mmio, 1 MiB of RAM, mock rings for two queues and an
/// edge-counting interrupt pin.
private struct MMIOFixture {
    static let version1: UInt64 = 1 << 32
    let memory: GuestMemory
    let device: FakeVirtioDevice
    let line = CountingLine()
    let transport: VirtioMMIODevice
    let driver: VirtioMMIODriver
    let rings: [VirtqueueDriver]

    init(device: FakeVirtioDevice = FakeVirtioDevice()) throws {
        memory = try GuestMemory(ranges: [(0, 0x10_0000)])
        self.device = device
        transport = try VirtioMMIODevice(device: device, memory: memory, interrupt: line)
        driver = VirtioMMIODriver(device: transport)
        rings = [
            try VirtqueueDriver(memory: memory, size: 16, at: GuestAddress(0x1000), eventIndex: true, indirectDescriptors: true),
            try VirtqueueDriver(memory: memory, size: 4, at: GuestAddress(0x8000), eventIndex: true, indirectDescriptors: true),
        ]
    }

    func negotiate(_ features: UInt64) {
        driver.setStatus(0)
        driver.addStatus(VirtioDeviceStatus.acknowledge)
        driver.addStatus(VirtioDeviceStatus.driver)
        driver.setDriverFeatures(features)
        driver.addStatus(VirtioDeviceStatus.featuresOK)
    }

    func bringUp(features: UInt64 = version1 | 1 << 28 | 1 << 29 | 1 << 5) {
        negotiate(features)
        for (index, ring) in rings.enumerated() { driver.setUpQueue(index, ring.configuration) }
        driver.addStatus(VirtioDeviceStatus.driverOK)
    }
}

@Suite struct VirtioMMIOTransportTests {
    private typealias F = MMIOFixture
    typealias L = VirtioMMIOLayout

    @Test func identityRegisters() throws {
        let f = try F()
        #expect(f.driver.register(L.magicValue) == 0x7472_6976)
        #expect(f.driver.register(L.versionRegister) == 2)
        #expect(f.driver.register(L.deviceID) == 4)
        #expect(f.driver.register(L.vendorIDRegister) == VirtioMMIOLayout.vendorID)
        // No shared memory regions: length and base read all ones.
        f.driver.setRegister(L.shmSel, 0)
        #expect(f.driver.register(L.shmLenLow) == 0xFFFF_FFFF && f.driver.register(L.shmLenHigh) == 0xFFFF_FFFF)
        #expect(f.driver.register(L.shmBaseLow) == 0xFFFF_FFFF)
        #expect(f.driver.register(L.queueReset) == 0)
    }

    @Test func initSequenceActivatesTheDevice() throws {
        let f = try F()
        // The device's own bit 5 passes; its transport bit 34 (packed) is hidden.
        let offered = f.driver.deviceFeatures()
        #expect(offered == F.version1 | 1 << 28 | 1 << 29 | 1 << 5)
        f.driver.setRegister(L.queueSel, 0)
        #expect(f.driver.register(L.queueNumMax) == 16)
        f.driver.setRegister(L.queueSel, 1)
        #expect(f.driver.register(L.queueNumMax) == 8)
        #expect(f.driver.register(L.queueReady) == 0)
        f.bringUp()
        #expect(f.driver.status == 0x0F)
        let activation = try #require(f.device.activations.first)
        #expect(f.device.activations.count == 1)
        #expect(activation.features == offered)
        for (index, ring) in f.rings.enumerated() {
            #expect(try #require(activation.queues[index]).configuration == ring.configuration)
        }
        f.driver.setRegister(L.queueSel, 1)
        #expect(f.driver.register(L.queueReady) == 1)
        #expect(f.driver.register(L.queueNum) == 4)

        f.driver.notify(queue: 1)
        f.driver.notify(queue: 0)
        f.driver.notify(queue: 7)  // no such queue
        f.driver.setRegister(L.queueNotify, 0x1_0000)  // nor is this
        #expect(f.device.notified == [1, 0])
    }

    @Test func interruptStatusAndACK() throws {
        let f = try F()
        f.bringUp()
        let interrupt = try #require(f.device.activations.first).interrupt
        #expect(f.driver.register(L.interruptStatus) == 0)
        interrupt.signalUsed(queue: 0)
        #expect(f.line.risingEdges == 1 && !f.line.level)
        #expect(f.driver.register(L.interruptStatus) == 1)
        // Reading does not clear it; every event is an edge of its own, set bit or not.
        interrupt.signalUsed(queue: 1)
        #expect(f.line.risingEdges == 2)
        interrupt.signalConfigChange()
        #expect(f.line.risingEdges == 3)
        #expect(f.driver.register(L.interruptStatus) == 3)
        #expect(f.driver.register(L.configGeneration) == 1)
        f.driver.setRegister(L.interruptACK, 1)
        #expect(f.driver.register(L.interruptStatus) == 2)
        #expect(f.driver.handleInterrupt() == 2)
        #expect(f.driver.register(L.interruptStatus) == 0)
        // Unknown bits acknowledged: nothing happens.
        f.driver.setRegister(L.interruptACK, 0xFFFF_FFFF)
        #expect(f.transport.interruptStatus == 0)
    }

    @Test func featuresOKIsRefusedWithoutVersion1OrWithUnofferedBits() throws {
        let f = try F()
        f.negotiate(1 << 5)
        #expect(f.driver.status & VirtioDeviceStatus.featuresOK == 0)
        f.negotiate(F.version1 | 1 << 6)
        #expect(f.driver.status & VirtioDeviceStatus.featuresOK == 0)
        f.negotiate(F.version1)
        #expect(f.driver.status == 0x0B)
        f.driver.setDriverFeatures(F.version1 | 1 << 5)
        #expect(f.transport.driverFeatures == F.version1)
        // DeviceFeatures is read-only.
        f.driver.setRegister(L.deviceFeaturesSel, 1)
        f.driver.setRegister(L.deviceFeatures, 0)
        #expect(f.driver.register(L.deviceFeatures) == 1)
    }

    @Test func driverOKWithoutFeaturesOKNeedsReset() throws {
        let f = try F()
        f.driver.addStatus(VirtioDeviceStatus.acknowledge | VirtioDeviceStatus.driver)
        f.driver.addStatus(VirtioDeviceStatus.driverOK)
        #expect(f.driver.status & VirtioDeviceStatus.needsReset != 0)
        #expect(f.device.activations.isEmpty)
        #expect(f.transport.lastError == .driverOKWithoutFeaturesOK)
        #expect(f.driver.register(L.interruptStatus) == 2)
        #expect(f.line.risingEdges == 1)
    }

    @Test func badQueueSizesNeedReset() throws {
        let f = try F()
        f.negotiate(F.version1)
        var configuration = f.rings[0].configuration
        configuration.size = 12
        f.driver.setUpQueue(0, configuration)
        #expect(f.driver.status & VirtioDeviceStatus.needsReset != 0)
        #expect(f.transport.lastError == .queueSizeInvalid(queue: 0, size: 12, max: 16))
        #expect(f.driver.register(L.queueReady) == 0)
        #expect(f.driver.register(L.interruptStatus) == 2)
        configuration.size = 32  // above the maximum
        f.negotiate(F.version1)
        f.driver.setUpQueue(0, configuration)
        #expect(f.transport.lastError == .queueSizeInvalid(queue: 0, size: 32, max: 16))
        // A size past 16 bits is no size, not its low half (0x10010 would pass as 16).
        f.negotiate(F.version1)
        f.driver.setRegister(L.queueSel, 0)
        f.driver.setRegister(L.queueNum, 0x1_0010)
        f.driver.setRegister(L.queueReady, 1)
        #expect(f.transport.lastError == .queueSizeInvalid(queue: 0, size: 0, max: 16))
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
        // High halves count: a descriptor table at 4 GiB + 0x1000 is outside 1 MiB of RAM.
        f.negotiate(F.version1)
        configuration = f.rings[0].configuration
        configuration.descriptorTable = GuestAddress(0x1_0000_1000)
        f.driver.setUpQueue(0, configuration)
        f.driver.addStatus(VirtioDeviceStatus.driverOK)
        guard case .queue(0, .areaOutsideRAM(.descriptorTable, _, _))? = f.transport.lastError else {
            Issue.record("unexpected error \(String(describing: f.transport.lastError))")
            return
        }
    }

    @Test func queueSelectorsPastSixteenBitsSelectNothing() throws {
        let f = try F()
        f.driver.setRegister(L.queueSel, 0x1_0000)  // would be queue 0 if truncated
        #expect(f.driver.register(L.queueNumMax) == 0)
        f.driver.setRegister(L.queueNum, 4)
        f.driver.setRegister(L.queueReady, 1)
        f.driver.setRegister(L.queueSel, 0)
        #expect(f.driver.register(L.queueNum) == 16)
        #expect(f.driver.register(L.queueReady) == 0)
        #expect(f.driver.status == 0)
    }

    @Test func queueReadyZeroTakesAQueueBackOnlyBeforeDriverOK() throws {
        let f = try F()
        f.negotiate(F.version1)
        f.driver.setUpQueue(0, f.rings[0].configuration)
        #expect(f.driver.register(L.queueReady) == 1)
        f.driver.setRegister(L.queueReady, 0)
        #expect(f.driver.register(L.queueReady) == 0)
        f.driver.setUpQueue(0, f.rings[0].configuration)
        f.driver.addStatus(VirtioDeviceStatus.driverOK)
        f.driver.setRegister(L.queueReady, 0)
        #expect(f.driver.register(L.queueReady) == 1)  // no RING_RESET: it keeps running
        f.driver.setRegister(L.queueReady, 2)  // meaningless
        #expect(f.device.activations.count == 1)
    }

    @Test func resetClearsEverything() throws {
        let f = try F()
        f.bringUp()
        let stale = try #require(f.device.activations.first).interrupt
        stale.signalUsed(queue: 0)
        #expect(f.transport.interruptStatus == 1)
        f.driver.setStatus(0)
        #expect(f.driver.status == 0)
        #expect(f.device.resets == 2)  // the bring-up's own reset, then this one
        #expect(f.transport.driverFeatures == 0)
        #expect(f.driver.register(L.interruptStatus) == 0)
        for queue in 0..<2 {
            f.driver.setRegister(L.queueSel, UInt32(queue))
            #expect(f.driver.register(L.queueReady) == 0)
            #expect(f.driver.register(L.queueNum) == UInt32(f.device.queueMaxSizes[queue]))
            #expect(f.driver.register(L.queueDescLow) == 0)
        }
        let edges = f.line.risingEdges
        stale.signalUsed(queue: 0)
        stale.signalNeedsReset()
        f.driver.notify(queue: 0)
        #expect(f.line.risingEdges == edges)
        #expect(f.device.notified.isEmpty)
        #expect(f.driver.status == 0)
        f.bringUp()
        #expect(f.device.activations.count == 2 && f.driver.status == 0x0F)
        // The machine's reset does the same.
        f.transport.reset()
        #expect(f.driver.status == 0 && f.device.resets == 4)
    }

    @Test func controlRegistersTakeOnlyAligned32BitAccesses() throws {
        let f = try F()
        #expect(f.transport.read(offset: L.magicValue, size: 1) == 0)
        #expect(f.transport.read(offset: L.magicValue, size: 8) == 0)
        #expect(f.transport.read(offset: L.versionRegister + 2, size: 4) == 0)
        f.transport.write(offset: L.status, size: 1, value: 1)
        f.transport.write(offset: L.status, size: 8, value: 1)
        #expect(f.driver.status == 0)
        // Unknown registers read 0 and drop writes; so does everything past the window.
        #expect(f.driver.register(0x0F8) == 0)
        f.driver.setRegister(0x0F8, 0xFFFF_FFFF)
        #expect(f.transport.read(offset: L.windowSize, size: 4) == 0)
        #expect(f.transport.read(offset: UInt64.max, size: 4) == 0)
        f.transport.write(offset: UInt64.max - 3, size: 4, value: 1)
        f.transport.write(offset: L.config, size: 3, value: 1)
        #expect(f.device.configWriteCount == 0)
        // ConfigGeneration is read-only; Status takes only its low byte.
        f.driver.setRegister(L.configGeneration, 9)
        #expect(f.driver.register(L.configGeneration) == 0)
        f.driver.setRegister(L.status, 0x101)
        #expect(f.driver.status == 1)
    }

    @Test func deviceConfigTakesAnyWidth() throws {
        let f = try F()
        #expect(f.driver.deviceConfig(0, size: 4) == 0x4433_2211)
        #expect(f.driver.deviceConfig(1, size: 1) == 0x22)
        #expect(f.driver.deviceConfig(6, size: 2) == 0x8877)
        #expect(f.driver.deviceConfig(0, size: 8) == 0x8877_6655_4433_2211)
        #expect(f.driver.deviceConfig(8, size: 8) == 0)
        f.transport.write(offset: L.config + 2, size: 1, value: 5)
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
        f.transport.queueNotified(1)  // never set up
        f.transport.write(offset: L.queueNotify, size: 2, value: 0)  // not 32 bits
        #expect(f.device.notified == [0])
    }

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

    @Test func aDeviceThatFailsToStartNeedsReset() throws {
        let f = try F(device: FakeVirtioDevice(failActivation: true))
        f.bringUp()
        #expect(f.device.activations.count == 1)
        #expect(f.driver.status & VirtioDeviceStatus.needsReset != 0)
        #expect(f.driver.register(L.interruptStatus) == 2)
        f.driver.notify(queue: 0)
        #expect(f.device.notified.isEmpty)
    }

    /// A real device over the real transport: an entropy request goes through the ring
    /// and comes back with an interrupt the driver can see in InterruptStatus.
    @Test func rngServesARequestOverMMIO() throws {
        let memory = try GuestMemory(ranges: [(0, 0x10_0000)])
        let line = CountingLine()
        let transport = try VirtioMMIODevice(device: TransportedDevice(try VirtioRng()), memory: memory, interrupt: line)
        let driver = VirtioMMIODriver(device: transport)
        let ring = try VirtqueueDriver(memory: memory, size: 8, at: GuestAddress(0x1000), eventIndex: false, indirectDescriptors: false)
        driver.setStatus(0)
        driver.addStatus(VirtioDeviceStatus.acknowledge | VirtioDeviceStatus.driver)
        driver.setDriverFeatures(MMIOFixture.version1)
        driver.addStatus(VirtioDeviceStatus.featuresOK)
        driver.setUpQueue(0, ring.configuration)
        driver.addStatus(VirtioDeviceStatus.driverOK)
        #expect(driver.status == 0x0F)
        try ring.addChain(writable: [DescriptorChain.Buffer(address: GuestAddress(0x20000), length: 64)])
        driver.notify(queue: 0)
        #expect(try ring.popUsed()?.length == 64)
        #expect(line.risingEdges == 1)
        #expect(driver.handleInterrupt() == 1)
    }

    @Test func badDevicesAreRefused() throws {
        let memory = try GuestMemory(ranges: [(0, 0x1000)])
        #expect(throws: VirtioTransportError.queueMaxSizeInvalid(queue: 1, size: 3)) {
            try VirtioMMIODevice(device: FakeVirtioDevice(queueMaxSizes: [4, 3]), memory: memory, interrupt: CountingLine())
        }
        #expect(throws: VirtioTransportError.queueMaxSizeInvalid(queue: 0, size: 0)) {
            try VirtioMMIODevice(device: FakeVirtioDevice(queueMaxSizes: [0]), memory: memory, interrupt: CountingLine())
        }
    }
}
