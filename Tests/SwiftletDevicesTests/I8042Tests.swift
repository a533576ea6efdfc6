import Testing
@testable import SwiftletDevices
import SwiftletTestSupport

@Suite struct I8042Tests {
    static let data: UInt64 = 0, command: UInt64 = 4

    let line = CountingLine()
    let control = RecordingControl()
    var controller: I8042 { I8042(keyboardInterrupt: line, control: control) }

    func status(_ c: I8042) -> UInt64 { c.read(offset: Self.command, size: 1) }

    @Test func selfTestPasses() {
        let c = controller
        #expect(status(c) & 0x01 == 0)
        #expect(status(c) & 0x04 != 0)  // system flag: POST passed
        c.write(offset: Self.command, size: 1, value: 0xAA)
        #expect(status(c) & 0x03 == 0x01)  // output full, input empty
        #expect(c.read(offset: Self.data, size: 1) == 0x55)
        #expect(status(c) & 0x01 == 0)
        c.write(offset: Self.command, size: 1, value: 0xAB)
        #expect(c.read(offset: Self.data, size: 1) == 0x00)
        c.write(offset: Self.command, size: 1, value: 0xA9)
        #expect(c.read(offset: Self.data, size: 1) == 0x00)
    }

    @Test func configurationByteRoundTrips() {
        let c = controller
        c.write(offset: Self.command, size: 1, value: 0x20)
        #expect(c.read(offset: Self.data, size: 1) == UInt64(I8042.defaultCTR))
        c.write(offset: Self.command, size: 1, value: 0x60)
        c.write(offset: Self.data, size: 1, value: 0x30)  // both ports disabled, no interrupts
        c.write(offset: Self.command, size: 1, value: 0x20)
        #expect(!line.level)
        #expect(c.read(offset: Self.data, size: 1) == 0x30)
        #expect(status(c) & 0x04 == 0)  // SYS follows the CTR
        c.write(offset: Self.command, size: 1, value: 0xAE)
        c.write(offset: Self.command, size: 1, value: 0xA8)
        c.write(offset: Self.command, size: 1, value: 0x20)
        #expect(c.read(offset: Self.data, size: 1) == 0x00)
    }

    @Test func keyboardResetRaisesAnEdgePerByte() {
        let c = controller
        c.write(offset: Self.data, size: 1, value: 0xFF)
        #expect(line.level && line.risingEdges == 1)
        #expect(c.read(offset: Self.data, size: 1) == 0xFA)
        #expect(line.level && line.risingEdges == 2)
        #expect(c.read(offset: Self.data, size: 1) == 0xAA)
        #expect(!line.level)
        c.write(offset: Self.data, size: 1, value: 0xF2)
        #expect([c.read(offset: Self.data, size: 1), c.read(offset: Self.data, size: 1),
                 c.read(offset: Self.data, size: 1)] == [0xFA, 0xAB, 0x41])
        c.write(offset: Self.data, size: 1, value: 0xED)
        c.write(offset: Self.data, size: 1, value: 0x07)
        #expect([c.read(offset: Self.data, size: 1), c.read(offset: Self.data, size: 1)] == [0xFA, 0xFA])
        #expect(status(c) & 0x01 == 0)
    }

    @Test func auxPortHasNoMouse() {
        let c = controller
        c.write(offset: Self.command, size: 1, value: 0xD4)
        c.write(offset: Self.data, size: 1, value: 0xFF)
        #expect(status(c) & 0x21 == 0x21)  // output full, from the aux side
        #expect(!line.level)  // aux data never raises IRQ 1
        #expect(c.read(offset: Self.data, size: 1) == 0xFE)
    }

    @Test func pulseCommandResets() {
        let c = controller
        c.write(offset: Self.command, size: 1, value: 0xFF)  // pulses nothing
        #expect(control.requests.isEmpty)
        c.write(offset: Self.command, size: 1, value: 0xFE)
        #expect(control.requests == [.reset])
    }

    @Test func outputPortResetLine() {
        let c = controller
        c.write(offset: Self.command, size: 1, value: 0xD1)
        c.write(offset: Self.data, size: 1, value: 0x03)  // A20 on, reset line high
        #expect(control.requests.isEmpty)
        c.write(offset: Self.command, size: 1, value: 0xD0)
        #expect(c.read(offset: Self.data, size: 1) == 0x03)
        c.write(offset: Self.command, size: 1, value: 0xD1)
        c.write(offset: Self.data, size: 1, value: 0x02)  // bit 0 clear: reset
        #expect(control.requests == [.reset])
    }

    @Test func portsBetweenFloatHigh() {
        let c = controller
        #expect(c.read(offset: 1, size: 1) == 0xFF)
        #expect(c.read(offset: 3, size: 1) == 0xFF)
    }
}
