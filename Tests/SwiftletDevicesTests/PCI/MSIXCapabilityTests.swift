import Testing
import SwiftletDevices
import SwiftletTestSupport

@Suite struct PCIMSIXTests {
    let recorder = PCIMSIRecorder()
    var config = PCIConfigurationSpace(vendorID: 1, deviceID: 2, classCode: 0)
    let msix: MSIXCapability

    init() throws {
        msix = try MSIXCapability(
            vectors: 3, tableBAR: 0, tableOffset: 0x4000, pbaBAR: 0, pbaOffset: 0x5000, delivery: recorder,
            installingIn: &config)
    }

    mutating func setControl(_ value: UInt16) {
        config.write(offset: msix.capabilityOffset + 2, size: 2, value: UInt32(value))
        msix.configurationWritten(config, offset: msix.capabilityOffset + 2, size: 2)
    }

    func program(_ vector: Int, data: UInt32, masked: Bool) {
        let entry = UInt64(16 * vector)
        msix.tableWrite(offset: entry, size: 8, value: 0xFEE0_1000)
        msix.tableWrite(offset: entry + 8, size: 4, value: UInt64(data))
        msix.tableWrite(offset: entry + 12, size: 4, value: masked ? 1 : 0)
    }

    @Test func capabilityDescribesTheTable() {
        let c = msix.capabilityOffset
        #expect(config.read(offset: c, size: 1) == 0x11)
        #expect(config.read(offset: c + 2, size: 2) == 2)  // table size N-1
        #expect(config.read(offset: c + 4, size: 4) == 0x4000)
        #expect(config.read(offset: c + 8, size: 4) == 0x5000)
        #expect(msix.tableRead(offset: 12, size: 4) == 1)  // masked at reset
    }

    @Test mutating func disabledDeliversNothing() {
        program(0, data: 0x30, masked: false)
        #expect(!msix.signal(vector: 0))
        #expect(recorder.signals.isEmpty)
        #expect(msix.pbaRead(offset: 0, size: 8) == 0)
    }

    @Test mutating func maskedVectorPendsUntilUnmasked() {
        setControl(MSIXCapability.controlEnable)
        program(1, data: 0x31, masked: true)
        #expect(msix.signal(vector: 1))
        #expect(recorder.signals.isEmpty)
        #expect(msix.pbaRead(offset: 0, size: 8) == 0b10)
        #expect(msix.entry(1)?.pending == true)
        msix.tableWrite(offset: 16 + 12, size: 4, value: 0)
        #expect(recorder.signals == [1])
        #expect(msix.pbaRead(offset: 0, size: 8) == 0)
        #expect(recorder.route(1) == PCIMSIRecorder.Route(address: 0xFEE0_1000, data: 0x31, masked: false))
        msix.signal(vector: 1)
        #expect(recorder.signals == [1, 1])
    }

    @Test mutating func functionMaskHoldsEveryVector() {
        program(0, data: 0x30, masked: false)
        program(2, data: 0x32, masked: false)
        setControl(MSIXCapability.controlEnable | MSIXCapability.controlFunctionMask)
        #expect(recorder.route(0)?.masked == true)
        msix.signal(vector: 0)
        msix.signal(vector: 2)
        #expect(recorder.signals.isEmpty)
        #expect(msix.pbaRead(offset: 0, size: 1) == 0b101)
        setControl(MSIXCapability.controlEnable)
        #expect(Set(recorder.signals) == [0, 2] && recorder.signals.count == 2)
        #expect(recorder.route(2) == PCIMSIRecorder.Route(address: 0xFEE0_1000, data: 0x32, masked: false))
    }

    @Test mutating func hostileValuesAreContained() {
        setControl(0xFFFF)  // only enable and function mask stick
        #expect(config.read(offset: msix.capabilityOffset + 2, size: 2) == 0xC002)
        #expect(msix.isEnabled && msix.isFunctionMasked)
        #expect(!msix.signal(vector: 3) || recorder.signals.isEmpty)
        msix.signal(vector: -1)
        msix.signal(vector: 1 << 40)
        #expect(msix.pbaRead(offset: 0, size: 8) == 0)
        msix.tableWrite(offset: 0, size: 8, value: UInt64.max)
        msix.tableWrite(offset: 12, size: 4, value: 0xFFFF_FFFF)
        #expect(msix.tableRead(offset: 0, size: 4) == 0xFFFF_FFFC)
        #expect(msix.tableRead(offset: 12, size: 4) == 1)
        msix.tableWrite(offset: 48, size: 4, value: 0)  // past the table
        msix.tableWrite(offset: UInt64.max, size: 8, value: 0)
        #expect(msix.tableRead(offset: 48, size: 4) == 0)
        #expect(msix.tableRead(offset: UInt64.max - 2, size: 8) == 0)
    }

    @Test mutating func resetMasksAndForgets() {
        setControl(MSIXCapability.controlEnable)
        program(0, data: 0x30, masked: true)
        msix.signal(vector: 0)
        msix.reset()
        #expect(!msix.isEnabled)
        #expect(msix.entry(0) == MSIXEntry(address: 0, data: 0, masked: true, pending: false))
        #expect(recorder.signals.isEmpty)
    }
}
