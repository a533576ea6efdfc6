import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

/// A fake device behind the PCI transport, 1 MiB of RAM, and mock rings for two queues.
struct VirtioTransportFixture {
    static let version1: UInt64 = 1 << 32
    let memory: GuestMemory
    let device: FakeVirtioDevice
    let recorder = PCIMSIRecorder()
    let line = CountingLine()
    let transport: VirtioPCIDevice
    let driver: VirtioPCIDriver
    let rings: [VirtqueueDriver]

    init(device: FakeVirtioDevice = FakeVirtioDevice(), intx: Bool = false) throws {
        memory = try GuestMemory(ranges: [(0, 0x10_0000)])
        self.device = device
        transport = try VirtioPCIDevice(
            device: device, memory: memory, msiDelivery: recorder, interruptLine: intx ? line : nil)
        driver = VirtioPCIDriver(device: transport)
        rings = [
            try VirtqueueDriver(memory: memory, size: 16, at: GuestAddress(0x1000), eventIndex: true, indirectDescriptors: true),
            try VirtqueueDriver(memory: memory, size: 4, at: GuestAddress(0x8000), eventIndex: true, indirectDescriptors: true),
        ]
    }

    /// Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (virtio 1.2 section 3.1.1 steps 1-6).
    func negotiate(_ features: UInt64) {
        driver.setStatus(0)
        driver.addStatus(VirtioDeviceStatus.acknowledge)
        driver.addStatus(VirtioDeviceStatus.driver)
        driver.setDriverFeatures(features)
        driver.addStatus(VirtioDeviceStatus.featuresOK)
    }

    /// The whole sequence with MSI-X on: vectors 0 (config), 1 and 2 (queues).
    func bringUp(features: UInt64 = version1 | 1 << 28 | 1 << 29 | 1 << 5) {
        enableMSIX()
        negotiate(features)
        driver.setCommon(VirtioPCIDriver.configMSIXVector, size: 2, 0)
        for (index, ring) in rings.enumerated() {
            driver.setUpQueue(index, ring.configuration, vector: UInt16(index + 1))
        }
        driver.addStatus(VirtioDeviceStatus.driverOK)
    }

    func enableMSIX() {
        for vector in 0..<3 { driver.programVector(vector) }
        let control = transport.msix.capabilityOffset + 2
        _ = transport.configWrite(offset: control, size: 2, value: UInt32(MSIXCapability.controlEnable))
    }
}
