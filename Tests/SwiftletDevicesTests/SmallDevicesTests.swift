import Synchronization
import Testing
@testable import SwiftletDevices
import SwiftletTestSupport

@Suite struct ACPIPowerDeviceTests {
    let control = RecordingControl()

    @Test func s5PowersOff() {
        let device = ACPIPowerDevice(control: control)
        device.write(offset: 0, size: 1, value: 0x14)  // SLP_TYP 5 without SLP_EN
        #expect(control.requests.isEmpty)
        device.write(offset: 0, size: 1, value: 0x34)
        #expect(control.requests == [.powerOff])
    }

    @Test func otherSleepTypesAreOnlyReported() {
        let heard = Mutex<[UInt8]>([])
        let device = ACPIPowerDevice(control: control) { type in heard.withLock { $0.append(type) } }
        device.write(offset: 0, size: 1, value: 0x20 | 3 << 2)
        #expect(control.requests.isEmpty)
        #expect(heard.withLock { $0 } == [3])
    }

    @Test func resetRegisterResets() {
        let device = ACPIPowerDevice(control: control)
        device.write(offset: 4, size: 1, value: 2)
        device.write(offset: 1, size: 1, value: 0x80)  // clearing WAK_STS
        #expect(control.requests.isEmpty)
        #expect(device.read(offset: 1, size: 1) == 0)
        device.write(offset: 4, size: 1, value: 1)
        #expect(control.requests == [.reset])
    }
}

@Suite struct DebugPortTests {
    @Test func keepsAndReportsTheLastByte() {
        let heard = Mutex<[UInt8]>([])
        let port = DebugPort { byte in heard.withLock { $0.append(byte) } }
        port.write(offset: 0, size: 1, value: 0x12)
        port.write(offset: 0, size: 1, value: 0x1FF)  // only the low byte is on the bus
        #expect(port.read(offset: 0, size: 1) == 0xFF)
        #expect(port.lastValue == 0xFF)
        #expect(heard.withLock { $0 } == [0x12, 0xFF])
    }
}

@Suite struct BusDispatchTests {
    @Test func dispatchesOffsetsAndFloatsUnclaimedPorts() throws {
        let missed = Mutex<[(UInt64, Int, UInt64?)]>([])
        let bus = Bus { address, size, value in missed.withLock { $0.append((address, size, value)) } }
        let control = RecordingControl()
        try bus.insert(CMOSRTC(clock: { 0 }), at: 0x70, size: CMOSRTC.windowSize, name: "rtc")
        try bus.insert(ACPIPowerDevice(control: control), at: 0x600, size: ACPIPowerDevice.windowSize, name: "acpi-power")
        try bus.insert(DebugPort(), at: 0x80, size: 1, name: "post")

        bus.write(at: 0x70, size: 1, value: 0x40)
        bus.write(at: 0x71, size: 1, value: 0x99)
        bus.write(at: 0x70, size: 1, value: 0x40)
        #expect(bus.read(at: 0x71, size: 1) == 0x99)
        bus.write(at: 0x604, size: 1, value: 1)
        bus.write(at: 0x600, size: 1, value: 0x34)
        #expect(control.requests == [.reset, .powerOff])

        #expect(bus.read(at: 0x81, size: 1) == 0xFF)
        #expect(bus.read(at: 0x2F8, size: 2) == 0xFFFF)
        #expect(bus.read(at: 0x2F8, size: 4) == 0xFFFF_FFFF)
        bus.write(at: 0x2F8, size: 1, value: 0x41)
        let log = missed.withLock { $0 }
        #expect(log.count == 4)
        #expect(log.last.map { $0.0 == 0x2F8 && $0.1 == 1 && $0.2 == 0x41 } == true)
        #expect(throws: Bus.InsertError.self) {
            try bus.insert(DebugPort(), at: 0x71, size: 1, name: "clash")
        }
    }
}
