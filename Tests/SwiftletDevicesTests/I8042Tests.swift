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

    // MARK: Ctrl+Alt+Del

    func writeCTR(_ c: I8042, _ ctr: UInt8) {
        c.write(offset: Self.command, size: 1, value: 0x60)
        c.write(offset: Self.data, size: 1, value: UInt64(ctr))
    }

    /// Reads every byte the controller offers, checking that each comes with its own rising
    /// edge on IRQ 1 and that the line is low once the buffer is empty.
    func readKeystrokes(_ c: I8042, limit: Int = 100) -> [UInt8] {
        var bytes: [UInt8] = []
        while status(c) & 0x01 != 0, bytes.count < limit {
            let edges = line.risingEdges
            #expect(line.level)
            #expect(status(c) & 0x20 == 0)  // keyboard data, not aux
            bytes.append(UInt8(c.read(offset: Self.data, size: 1)))
            if status(c) & 0x01 != 0 {
                #expect(line.risingEdges == edges + 1)  // dropped and raised for the next byte
            }
        }
        #expect(!line.level)
        return bytes
    }

    static let translatedChord: [UInt8] = [0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D]
    static let set2Chord: [UInt8] = [0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0, 0x71, 0xF0, 0x11, 0xF0, 0x14]

    @Test func ctrlAltDelReadsAsSet1WhenTheControllerTranslates() {
        let c = controller
        #expect(status(c) & 0x01 == 0 && !line.level)
        #expect(c.pressCtrlAltDel())
        #expect(status(c) & 0x01 != 0)
        #expect(readKeystrokes(c) == Self.translatedChord)
        #expect(line.risingEdges == Self.translatedChord.count)
        #expect(status(c) & 0x01 == 0)
    }

    @Test func ctrlAltDelReadsAsSet2WithoutTranslation() {
        let c = controller
        writeCTR(c, I8042.defaultCTR & ~0x40)
        #expect(c.pressCtrlAltDel())
        #expect(readKeystrokes(c) == Self.set2Chord)
        #expect(line.risingEdges == Self.set2Chord.count)
    }

    @Test func disabledKeyboardHoldsKeystrokes() {
        let c = controller
        c.write(offset: Self.command, size: 1, value: 0xAD)  // keyboard port disabled
        #expect(c.pressCtrlAltDel())
        #expect(status(c) & 0x01 == 0 && !line.level && line.risingEdges == 0)
        c.write(offset: Self.command, size: 1, value: 0xAE)
        #expect(readKeystrokes(c) == Self.translatedChord)
    }

    @Test func keyboardInterruptOffHoldsKeystrokes() {
        let c = controller
        writeCTR(c, I8042.defaultCTR & ~0x01)
        #expect(c.pressCtrlAltDel())
        #expect(status(c) & 0x01 == 0 && line.risingEdges == 0)
        writeCTR(c, I8042.defaultCTR)
        #expect(readKeystrokes(c) == Self.translatedChord)
    }

    @Test func keyboardScanningOffHoldsKeystrokes() {
        let c = controller
        c.write(offset: Self.data, size: 1, value: 0xF5)  // atkbd's "disable" during its probe
        #expect(c.read(offset: Self.data, size: 1) == 0xFA)
        #expect(c.pressCtrlAltDel())
        #expect(status(c) & 0x01 == 0)
        c.write(offset: Self.data, size: 1, value: 0xF4)
        #expect(readKeystrokes(c) == [0xFA] + Self.translatedChord)
    }

    @Test func keystrokesWaitBehindACommandReply() {
        let c = controller
        c.write(offset: Self.command, size: 1, value: 0xAA)
        #expect(c.pressCtrlAltDel())
        #expect(readKeystrokes(c) == [0x55] + Self.translatedChord)
    }

    @Test func keystrokeBufferIsBounded() {
        let c = controller
        c.write(offset: Self.command, size: 1, value: 0xAD)
        var accepted = 0
        while c.pressCtrlAltDel(), accepted < 100 { accepted += 1 }
        #expect(accepted == I8042.keystrokeCapacity / Self.set2Chord.count)
        c.write(offset: Self.command, size: 1, value: 0xAE)
        let bytes = readKeystrokes(c, limit: 1000)
        #expect(bytes == Array([[UInt8]](repeating: Self.translatedChord, count: accepted).joined()))
        #expect(c.pressCtrlAltDel())  // room again once read
    }

    @Test func resetDropsHeldKeystrokes() {
        let c = controller
        c.write(offset: Self.command, size: 1, value: 0xAD)
        #expect(c.pressCtrlAltDel())
        c.reset()
        c.write(offset: Self.command, size: 1, value: 0xAE)
        #expect(status(c) & 0x01 == 0 && !line.level)
        c.write(offset: Self.command, size: 1, value: 0xAD)
        #expect(c.pressCtrlAltDel())
        c.write(offset: Self.data, size: 1, value: 0xFF)  // keyboard reset empties its buffer too
        #expect(readKeystrokes(c) == [0xFA, 0xAA])
    }
}
