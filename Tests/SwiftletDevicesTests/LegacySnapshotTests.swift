import Testing
import SwiftletDevices
import SwiftletTestSupport

@Suite struct LegacySnapshotTests {
    static let rbr: UInt64 = 0, ier: UInt64 = 1, lcr: UInt64 = 3, lsr: UInt64 = 5, scr: UInt64 = 7

    /// A UART with a baud divisor, a scratch byte, receive interrupts on and two unread
    /// input bytes comes back with all of it, its interrupt line raised again.
    @Test func aUARTComesBackWithItsRegistersAndUnreadInput() {
        let first = Serial8250(interrupt: CountingLine(), output: { _ in })
        first.write(offset: Self.lcr, size: 1, value: 0x83)
        first.write(offset: Self.rbr, size: 1, value: 0x03)  // divisor low, with DLAB
        first.write(offset: Self.lcr, size: 1, value: 0x03)
        first.write(offset: Self.scr, size: 1, value: 0x5A)
        first.write(offset: Self.ier, size: 1, value: 0x01)
        first.receive([0x41, 0x42])
        let saved = first.saveState()
        #expect(saved.input == [0x41, 0x42])

        let line = CountingLine()
        let second = Serial8250(interrupt: line, output: { _ in })
        second.restoreState(saved)
        #expect(second.saveState() == saved)
        #expect(line.level)  // received data pending, with its interrupt enabled
        #expect(second.read(offset: Self.scr, size: 1) == 0x5A)
        #expect(second.read(offset: Self.lsr, size: 1) & 1 == 1)
        #expect(second.read(offset: Self.rbr, size: 1) == 0x41)
        #expect(second.read(offset: Self.rbr, size: 1) == 0x42)
        #expect(!line.level)
        second.write(offset: Self.lcr, size: 1, value: 0x83)
        #expect(second.read(offset: Self.rbr, size: 1) == 0x03)
    }

    @Test func cmosNVRAMComesBack() {
        let first = CMOSRTC(clock: { 1_700_000_000 })
        first.write(offset: 0, size: 1, value: 0x40)
        first.write(offset: 1, size: 1, value: 0x99)
        let saved = first.saveState()
        let second = CMOSRTC(clock: { 1_700_000_000 })
        #expect(second.restoreState(saved))
        #expect(second.saveState() == saved)
        second.write(offset: 0, size: 1, value: 0x40)
        #expect(second.read(offset: 1, size: 1) == 0x99)
        #expect(!second.restoreState(CMOSRTCState(index: 0, ram: [1, 2, 3])))
    }
}
