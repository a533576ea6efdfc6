/// The register file of a 16550A UART (National Semiconductor PC16550D datasheet), as
/// plain state: `Serial8250` wraps it in a lock and wires it to an interrupt line.
///
/// Transmission is instant, so THR and the transmitter are always empty (LSR THRE and
/// TEMT stay set). Host input waits in `rx`, a bounded FIFO far deeper than the chip's
/// 16 bytes so that pasted text is not lost while the guest is slow to drain it.
struct UART16550Registers: Sendable {
    // Register offsets (datasheet Table II).
    static let data: UInt64 = 0, interruptEnable: UInt64 = 1, interruptID: UInt64 = 2
    static let lineControl: UInt64 = 3, modemControl: UInt64 = 4, lineStatus: UInt64 = 5
    static let modemStatus: UInt64 = 6, scratch: UInt64 = 7

    // IER bits.
    static let ierReceivedData: UInt8 = 0x01, ierTransmitterEmpty: UInt8 = 0x02
    static let ierLineStatus: UInt8 = 0x04, ierModemStatus: UInt8 = 0x08
    // IIR values, highest priority first; 0xC0 says the FIFOs are enabled.
    static let iirLineStatus: UInt8 = 0x06, iirReceivedData: UInt8 = 0x04
    static let iirTransmitterEmpty: UInt8 = 0x02, iirModemStatus: UInt8 = 0x00
    static let iirNone: UInt8 = 0x01, iirFIFOsEnabled: UInt8 = 0xC0
    // LSR bits.
    static let lsrDataReady: UInt8 = 0x01, lsrOverrun: UInt8 = 0x02
    static let lsrTHREmpty: UInt8 = 0x20, lsrTransmitterEmpty: UInt8 = 0x40
    // MCR bits.
    static let mcrDTR: UInt8 = 0x01, mcrRTS: UInt8 = 0x02, mcrOut1: UInt8 = 0x04
    static let mcrOut2: UInt8 = 0x08, mcrLoopback: UInt8 = 0x10
    // MSR bits: lines in the high nibble, their change ("delta") bits in the low one.
    static let msrCTS: UInt8 = 0x10, msrDSR: UInt8 = 0x20, msrRI: UInt8 = 0x40, msrDCD: UInt8 = 0x80
    static let lcrDLAB: UInt8 = 0x80

    var ier: UInt8 = 0
    var lcr: UInt8 = 0
    var mcr: UInt8 = 0
    var scr: UInt8 = 0
    /// Divisor latch; 12 is 9600 baud from the 1.8432 MHz clock, what PC firmware leaves.
    var divisorLow: UInt8 = 12
    var divisorHigh: UInt8 = 0
    var fifosEnabled = false
    /// A THR-empty interrupt is owed: set when THR empties, cleared by reading IIR while it
    /// is the one reported, or by writing THR.
    var thrInterruptPending = false
    var overrun = false
    var msrDeltas: UInt8 = 0
    var rx: ByteFIFO

    init(inputCapacity: Int) {
        rx = ByteFIFO(capacity: inputCapacity)
    }

    var loopback: Bool { mcr & Self.mcrLoopback != 0 }
    var dlab: Bool { lcr & Self.lcrDLAB != 0 }

    /// Modem input lines. In loopback they are wired to the MCR outputs (RTS->CTS,
    /// DTR->DSR, OUT1->RI, OUT2->DCD); otherwise a null modem that is always ready.
    var modemLines: UInt8 {
        guard loopback else { return Self.msrDCD | Self.msrDSR | Self.msrCTS }
        var lines: UInt8 = 0
        if mcr & Self.mcrRTS != 0 { lines |= Self.msrCTS }
        if mcr & Self.mcrDTR != 0 { lines |= Self.msrDSR }
        if mcr & Self.mcrOut1 != 0 { lines |= Self.msrRI }
        if mcr & Self.mcrOut2 != 0 { lines |= Self.msrDCD }
        return lines
    }

    var lineStatus: UInt8 {
        var lsr = Self.lsrTHREmpty | Self.lsrTransmitterEmpty
        if !rx.isEmpty { lsr |= Self.lsrDataReady }
        if overrun { lsr |= Self.lsrOverrun }
        return lsr
    }

    /// The highest-priority enabled pending interrupt (datasheet Table IV).
    var interruptSource: UInt8 {
        if ier & Self.ierLineStatus != 0 && overrun { return Self.iirLineStatus }
        if ier & Self.ierReceivedData != 0 && !rx.isEmpty { return Self.iirReceivedData }
        if ier & Self.ierTransmitterEmpty != 0 && thrInterruptPending { return Self.iirTransmitterEmpty }
        if ier & Self.ierModemStatus != 0 && msrDeltas != 0 { return Self.iirModemStatus }
        return Self.iirNone
    }

    var interruptPending: Bool { interruptSource != Self.iirNone }

    /// A guest read of register `offset` (0...7), with its side effects.
    mutating func read(_ offset: UInt64) -> UInt8 {
        switch offset {
        case Self.data:
            if dlab { return divisorLow }
            return rx.pop() ?? 0
        case Self.interruptEnable:
            return dlab ? divisorHigh : ier
        case Self.interruptID:
            let source = interruptSource
            // Reading IIR acknowledges a THR-empty interrupt, and only that one.
            if source == Self.iirTransmitterEmpty { thrInterruptPending = false }
            return source | (fifosEnabled ? Self.iirFIFOsEnabled : 0)
        case Self.lineControl:
            return lcr
        case Self.modemControl:
            return mcr
        case Self.lineStatus:
            let lsr = lineStatus
            overrun = false  // error bits clear on read
            return lsr
        case Self.modemStatus:
            let msr = modemLines | msrDeltas
            msrDeltas = 0
            return msr
        default:
            return scr
        }
    }

    /// What a guest write asks of the outside world.
    enum WriteEffect: Equatable {
        case none
        /// A byte written to THR: transmit it (or loop it back) and then mark THR empty.
        case transmit(UInt8)
    }

    /// A guest write of register `offset` (0...7).
    mutating func write(_ offset: UInt64, _ value: UInt8) -> WriteEffect {
        switch offset {
        case Self.data:
            if dlab { divisorLow = value; return .none }
            thrInterruptPending = false
            return .transmit(value)
        case Self.interruptEnable:
            if dlab { divisorHigh = value; return .none }
            let old = ier
            ier = value & 0x0F  // the 16550A has four enable bits; Linux's probe checks the rest read 0
            // Setting THRI while THR is empty owes an interrupt (as Bochs and QEMU do, and
            // Linux's UART_BUG_THRE probe expects); clearing it forgets the debt.
            if (old ^ ier) & Self.ierTransmitterEmpty != 0 {
                thrInterruptPending = ier & Self.ierTransmitterEmpty != 0
            }
        case Self.interruptID:  // FCR
            let enable = value & 0x01 != 0
            if enable != fifosEnabled || value & 0x02 != 0 {
                rx.removeAll()  // changing FIFO mode or RCVR FIFO reset empties the receiver
                overrun = false
            }
            fifosEnabled = enable
        case Self.lineControl:
            lcr = value
        case Self.modemControl:
            let before = modemLines
            mcr = value & 0x1F
            noteModemLineChange(from: before, to: modemLines)
        case Self.lineStatus, Self.modemStatus:
            break  // read-only (factory test writes are not emulated)
        default:
            scr = value
        }
        return .none
    }

    /// The transmitted byte arrives at our own receiver (loopback mode).
    mutating func loopBack(_ byte: UInt8) {
        if !rx.push(byte) { overrun = true }
    }

    /// Sets the MSR delta bits for lines that changed (TERI only on RI's falling edge).
    private mutating func noteModemLineChange(from before: UInt8, to after: UInt8) {
        let changed = before ^ after
        if changed & Self.msrCTS != 0 { msrDeltas |= 0x01 }
        if changed & Self.msrDSR != 0 { msrDeltas |= 0x02 }
        if before & Self.msrRI != 0 && after & Self.msrRI == 0 { msrDeltas |= 0x04 }
        if changed & Self.msrDCD != 0 { msrDeltas |= 0x08 }
    }
}
