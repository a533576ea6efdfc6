import Synchronization
import Testing
@testable import SwiftletDevices
import SwiftletTestSupport

/// Collects what the guest transmits.
final class ByteSink: Sendable {
    private let bytes = Mutex<[UInt8]>([])
    var received: [UInt8] { bytes.withLock { $0 } }
    func append(_ more: [UInt8]) { bytes.withLock { $0 += more } }
}

/// Counts calls of a callback.
final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func bump() { count.withLock { $0 += 1 } }
}

@Suite struct Serial8250Tests {
    // Offsets.
    static let rbr: UInt64 = 0, ier: UInt64 = 1, iir: UInt64 = 2, lcr: UInt64 = 3
    static let mcr: UInt64 = 4, lsr: UInt64 = 5, msr: UInt64 = 6, scr: UInt64 = 7

    let line = CountingLine()
    let sink = ByteSink()
    let spaceCalls = Counter()

    func uart(capacity: Int = Serial8250.defaultInputCapacity) -> Serial8250 {
        let sink = self.sink, spaceCalls = self.spaceCalls
        return Serial8250(interrupt: line, inputCapacity: capacity,
                          output: { sink.append($0) }, inputSpace: { spaceCalls.bump() })
    }

    @Test func divisorLatchRoundTrips() {
        let u = uart()
        u.write(offset: Self.lcr, size: 1, value: 0x83)
        u.write(offset: Self.rbr, size: 1, value: 0x01)
        u.write(offset: Self.ier, size: 1, value: 0x02)
        #expect(u.read(offset: Self.rbr, size: 1) == 0x01)
        #expect(u.read(offset: Self.ier, size: 1) == 0x02)
        u.write(offset: Self.lcr, size: 1, value: 0x03)
        #expect(u.read(offset: Self.lcr, size: 1) == 0x03)
        #expect(u.read(offset: Self.ier, size: 1) == 0)  // IER, not DLM
        #expect(sink.received.isEmpty)
        #expect(!line.level)  // divisor writes are not THR writes
        u.write(offset: Self.lcr, size: 1, value: 0x83)
        #expect(u.read(offset: Self.rbr, size: 1) == 0x01)
        #expect(u.read(offset: Self.rbr, size: 2) == 0x0201)  // a word access is two byte cycles
    }

    @Test func scratchRegisterHoldsAnyByte() {
        let u = uart()
        for value: UInt64 in [0xA5, 0x5A, 0x00] {
            u.write(offset: Self.scr, size: 1, value: value)
            #expect(u.read(offset: Self.scr, size: 1) == value)
        }
    }

    /// The checks of Linux's autoconfig() in drivers/tty/serial/8250/8250_port.c.
    @Test func passesLinuxProbe() {
        let u = uart()
        u.write(offset: Self.ier, size: 1, value: 0)
        #expect(u.read(offset: Self.ier, size: 1) & 0x0F == 0)
        u.write(offset: Self.ier, size: 1, value: 0x0F)
        #expect(u.read(offset: Self.ier, size: 1) & 0x0F == 0x0F)
        u.write(offset: Self.ier, size: 1, value: 0xFF)
        #expect(u.read(offset: Self.ier, size: 1) == 0x0F)  // no XScale UUE bit
        u.write(offset: Self.ier, size: 1, value: 0)
        // Loopback: MCR = LOOP | OUT2 | RTS shows DCD | CTS.
        u.write(offset: Self.mcr, size: 1, value: 0x1A)
        #expect(u.read(offset: Self.msr, size: 1) & 0xF0 == 0x90)
        u.write(offset: Self.mcr, size: 1, value: 0x00)
        #expect(u.read(offset: Self.msr, size: 1) & 0xF0 == 0xB0)
        // FIFO detection: 16550A reports both FIFO bits, no 64-byte FIFO bit 5.
        u.write(offset: Self.iir, size: 1, value: 0x01)
        #expect(u.read(offset: Self.iir, size: 1) >> 6 == 3)
        u.write(offset: Self.iir, size: 1, value: 0x21)
        #expect(u.read(offset: Self.iir, size: 1) & 0xE0 == 0xC0)
        u.write(offset: Self.iir, size: 1, value: 0x00)
        #expect(u.read(offset: Self.iir, size: 1) == 0x01)
        // No EFR behind LCR 0xBF: offset 2 still reads IIR, non-zero.
        u.write(offset: Self.lcr, size: 1, value: 0xBF)
        #expect(u.read(offset: Self.iir, size: 1) != 0)
        #expect(u.read(offset: Self.lsr, size: 1) != 0xFF)
    }

    @Test func transmitsAndReportsLineStatus() {
        let u = uart()
        #expect(u.read(offset: Self.lsr, size: 1) == 0x60)  // THRE | TEMT
        u.write(offset: Self.rbr, size: 1, value: UInt64(UInt8(ascii: "h")))
        u.write(offset: Self.rbr, size: 1, value: UInt64(UInt8(ascii: "i")))
        #expect(sink.received == Array("hi".utf8))
        #expect(u.receive([0x41, 0x42]) == 2)
        #expect(u.read(offset: Self.lsr, size: 1) == 0x61)  // DR
        #expect(u.read(offset: Self.rbr, size: 1) == 0x41)
        #expect(u.read(offset: Self.lsr, size: 1) == 0x61)
        #expect(u.read(offset: Self.rbr, size: 1) == 0x42)
        #expect(u.read(offset: Self.lsr, size: 1) == 0x60)
    }

    @Test func loopbackKeepsBytesInside() {
        let u = uart()
        u.write(offset: Self.mcr, size: 1, value: 0x10)
        u.write(offset: Self.rbr, size: 1, value: 0x5A)
        #expect(sink.received.isEmpty)
        #expect(u.read(offset: Self.lsr, size: 1) & 0x01 == 1)
        #expect(u.read(offset: Self.rbr, size: 1) == 0x5A)
        #expect(u.receive([1, 2, 3]) == 0)  // the receiver hears only itself
        #expect(u.inputFreeSpace == 0)
        u.write(offset: Self.mcr, size: 1, value: 0x00)
        #expect(spaceCalls.value == 1)
        #expect(u.receive([1, 2, 3]) == 3)
    }

    @Test func inputFIFOIsBounded() {
        let u = uart(capacity: 8)
        #expect(u.receive(Array(0..<10)) == 8)
        #expect(u.inputFreeSpace == 0)
        #expect(spaceCalls.value == 0)
        #expect(u.read(offset: Self.rbr, size: 1) == 0)
        #expect(spaceCalls.value == 1)  // room again: the caller may offer the rest
        #expect(u.receive([8, 9]) == 1)
        var got: [UInt8] = []
        while u.read(offset: Self.lsr, size: 1) & 1 != 0 { got.append(UInt8(u.read(offset: Self.rbr, size: 1))) }
        #expect(got == [1, 2, 3, 4, 5, 6, 7, 8])
        // A receiver FIFO reset (FCR bit 1) drops what the guest has not read.
        u.receive([1, 2])
        u.write(offset: Self.iir, size: 1, value: 0x03)
        #expect(u.read(offset: Self.lsr, size: 1) & 1 == 0)
    }

    @Test func interruptIdentificationFollowsPriority() {
        let u = uart(capacity: 4)
        u.write(offset: Self.ier, size: 1, value: 0x0F)
        u.write(offset: Self.mcr, size: 1, value: 0x10)  // loopback: modem lines all drop
        for byte: UInt64 in 1...5 { u.write(offset: Self.rbr, size: 1, value: byte) }  // one too many
        #expect(line.level)
        #expect(u.read(offset: Self.iir, size: 1) == 0x06)  // line status (overrun)
        #expect(u.read(offset: Self.lsr, size: 1) == 0x63)  // DR | OE | THRE | TEMT
        #expect(u.read(offset: Self.iir, size: 1) == 0x04)  // received data
        for byte: UInt64 in 1...4 { #expect(u.read(offset: Self.rbr, size: 1) == byte) }
        #expect(u.read(offset: Self.iir, size: 1) == 0x02)  // THR empty, acknowledged by this read
        #expect(u.read(offset: Self.iir, size: 1) == 0x00)  // modem status
        #expect(u.read(offset: Self.msr, size: 1) == 0x0B)  // DCTS | DDSR | DDCD, lines low
        #expect(u.read(offset: Self.iir, size: 1) == 0x01)
        #expect(!line.level)
    }

    @Test func lineFollowsEnablesAndPendingInput() {
        let u = uart()
        u.receive([7])
        #expect(!line.level)  // received-data interrupt not enabled
        u.write(offset: Self.ier, size: 1, value: 0x01)
        #expect(line.level)
        #expect(u.read(offset: Self.iir, size: 1) == 0x04)
        #expect(line.level)  // reading IIR does not acknowledge received data
        u.write(offset: Self.ier, size: 1, value: 0x00)
        #expect(!line.level)
        u.write(offset: Self.ier, size: 1, value: 0x01)
        #expect(line.level)
        #expect(u.read(offset: Self.rbr, size: 1) == 7)
        #expect(!line.level)
        #expect(line.risingEdges == 2)
    }

    @Test func transmitterEmptyInterruptRearms() {
        let u = uart()
        u.write(offset: Self.ier, size: 1, value: 0x02)
        #expect(line.level && line.risingEdges == 1)
        #expect(u.read(offset: Self.iir, size: 1) == 0x02)
        #expect(!line.level)
        #expect(u.read(offset: Self.iir, size: 1) == 0x01)
        u.write(offset: Self.ier, size: 1, value: 0x03)  // THRI stays set: no new interrupt
        #expect(u.read(offset: Self.iir, size: 1) == 0x01)
        u.write(offset: Self.ier, size: 1, value: 0x00)
        u.write(offset: Self.ier, size: 1, value: 0x02)  // 0 -> 1 with THR empty
        #expect(line.level && line.risingEdges == 2)
        #expect(u.read(offset: Self.iir, size: 1) == 0x02)
        // Each THR write empties at once: a fresh edge for the edge-triggered IRQ 4.
        u.write(offset: Self.rbr, size: 1, value: 0x41)
        #expect(line.level && line.risingEdges == 3)
        u.write(offset: Self.rbr, size: 1, value: 0x42)
        #expect(line.risingEdges == 4)
        #expect(sink.received == [0x41, 0x42])
    }

    @Test func resetRestoresPowerOnState() {
        let u = uart()
        u.write(offset: Self.ier, size: 1, value: 0x0F)
        u.write(offset: Self.lcr, size: 1, value: 0x1B)
        u.receive([1])
        #expect(line.level)
        u.reset()
        #expect(!line.level)
        #expect(u.read(offset: Self.ier, size: 1) == 0)
        #expect(u.read(offset: Self.lcr, size: 1) == 0)
        #expect(u.read(offset: Self.lsr, size: 1) == 0x60)
    }
}
