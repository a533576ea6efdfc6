/// The UART's registers and the host input the guest has not read yet, as a snapshot
/// keeps them. The line level is not saved: it follows from the registers.
public struct Serial8250State: Sendable, Equatable {
    public var ier: UInt8
    public var lcr: UInt8
    public var mcr: UInt8
    public var scr: UInt8
    public var divisorLow: UInt8
    public var divisorHigh: UInt8
    public var fifosEnabled: Bool
    public var thrInterruptPending: Bool
    public var overrun: Bool
    public var msrDeltas: UInt8
    public var input: [UInt8]

    public init(
        ier: UInt8, lcr: UInt8, mcr: UInt8, scr: UInt8, divisorLow: UInt8, divisorHigh: UInt8, fifosEnabled: Bool,
        thrInterruptPending: Bool, overrun: Bool, msrDeltas: UInt8, input: [UInt8]
    ) {
        self.ier = ier
        self.lcr = lcr
        self.mcr = mcr
        self.scr = scr
        self.divisorLow = divisorLow
        self.divisorHigh = divisorHigh
        self.fifosEnabled = fifosEnabled
        self.thrInterruptPending = thrInterruptPending
        self.overrun = overrun
        self.msrDeltas = msrDeltas
        self.input = input
    }
}

extension Serial8250 {
    public func saveState() -> Serial8250State {
        state.withLock { s in
            let r = s.registers
            return Serial8250State(
                ier: r.ier, lcr: r.lcr, mcr: r.mcr, scr: r.scr, divisorLow: r.divisorLow, divisorHigh: r.divisorHigh,
                fifosEnabled: r.fifosEnabled, thrInterruptPending: r.thrInterruptPending, overrun: r.overrun,
                msrDeltas: r.msrDeltas, input: r.rx.contents)
        }
    }

    /// Takes back a snapshot's registers and input, before any vCPU runs, and drives the
    /// line to what they say (a pending interrupt is raised again). Input beyond this
    /// UART's capacity is dropped, as `receive` would refuse it.
    public func restoreState(_ saved: Serial8250State) {
        state.withLock { s in
            var r = UART16550Registers(inputCapacity: s.registers.rx.capacity)
            r.ier = saved.ier & 0x0F  // the four interrupt enables are all the register holds
            r.lcr = saved.lcr
            r.mcr = saved.mcr & 0x1F
            r.scr = saved.scr
            r.divisorLow = saved.divisorLow
            r.divisorHigh = saved.divisorHigh
            r.fifosEnabled = saved.fifosEnabled
            r.thrInterruptPending = saved.thrInterruptPending
            r.overrun = saved.overrun
            r.msrDeltas = saved.msrDeltas & 0x0F
            for byte in saved.input where !r.rx.push(byte) { break }
            s.registers = r
            s.lineLevel = false
            if r.interruptPending {
                s.lineLevel = true
                line.set(level: true)
            }
        }
    }
}
