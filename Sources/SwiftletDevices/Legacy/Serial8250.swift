import Synchronization

/// A 16550A UART, the PC's COM port (eight registers; see `UART16550Registers`).
///
/// Guest-transmitted bytes go to `output` at once; host input enters through `receive`.
/// The interrupt line is driven as a level that is high while any enabled interrupt is
/// pending. Because ISA IRQ 4 is edge-triggered at the IOAPIC, a THR write drops the
/// line before the (instant) transmission raises the THR-empty interrupt again, so each
/// transmitted batch yields a fresh edge, as QEMU's 8250 does.
///
/// `output` and the interrupt line are called with the device lock held, which keeps
/// bytes and interrupts in guest order; they must not call back into this device.
public final class Serial8250: BusDevice {
    /// Host input the UART buffers before `receive` starts refusing bytes.
    public static let defaultInputCapacity = 4096
    /// The register window: eight ports.
    public static let windowSize: UInt64 = 8

    struct State {
        var registers: UART16550Registers
        var lineLevel = false
        /// `receive` turned bytes away; tell `inputSpace` when room appears.
        var inputRefused = false
    }

    let state: Mutex<State>
    let line: any InterruptLine
    private let output: @Sendable ([UInt8]) -> Void
    private let inputSpace: (@Sendable () -> Void)?

    /// - Parameters:
    ///   - interrupt: the UART's IRQ line (IRQ 4 for COM1).
    ///   - output: receives each byte the guest transmits.
    ///   - inputSpace: called (without the lock) when input space frees up after `receive`
    ///     refused bytes, so the caller can offer the rest.
    ///   - inputCapacity: how many host bytes wait for the guest.
    public init(interrupt: any InterruptLine,
                inputCapacity: Int = Serial8250.defaultInputCapacity,
                output: @escaping @Sendable ([UInt8]) -> Void,
                inputSpace: (@Sendable () -> Void)? = nil) {
        self.line = interrupt
        self.output = output
        self.inputSpace = inputSpace
        self.state = Mutex(State(registers: UART16550Registers(inputCapacity: inputCapacity)))
    }

    /// Queues host input for the guest; returns how many leading bytes were accepted. The
    /// caller keeps the rest and offers them again (after `inputSpace`, if given). No
    /// bytes are accepted while the guest has the UART in loopback mode.
    @discardableResult
    public func receive<C: Collection<UInt8>>(_ bytes: C) -> Int {
        state.withLock { s in
            var accepted = 0
            if !s.registers.loopback {
                for byte in bytes {
                    guard s.registers.rx.push(byte) else { break }
                    accepted += 1
                }
            }
            if accepted < bytes.count { s.inputRefused = true }
            drive(&s)
            return accepted
        }
    }

    /// How many more host bytes `receive` would accept now.
    public var inputFreeSpace: Int {
        state.withLock { $0.registers.loopback ? 0 : $0.registers.rx.freeSpace }
    }

    /// Returns the registers to their power-on values and drops buffered input (a guest reset).
    public func reset() {
        let notify = state.withLock { s in
            let capacity = s.registers.rx.capacity
            s.registers = UART16550Registers(inputCapacity: capacity)
            drive(&s)
            return takeInputSpaceNotice(&s)
        }
        if notify { inputSpace?() }
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        let (value, notify) = state.withLock { s in
            let value = ByteLanes.read(offset: offset, size: size, width: Self.windowSize) { s.registers.read($0) }
            drive(&s)
            return (value, takeInputSpaceNotice(&s))
        }
        if notify { inputSpace?() }
        return value
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        let notify = state.withLock { s in
            ByteLanes.write(offset: offset, size: size, value: value, width: Self.windowSize) { port, byte in
                guard case .transmit(let sent) = s.registers.write(port, byte) else { return }
                drive(&s)  // THR full: the THR-empty interrupt falls
                if s.registers.loopback {
                    s.registers.loopBack(sent)
                } else {
                    output([sent])
                }
                s.registers.thrInterruptPending = true  // ... and rises as THR empties
            }
            drive(&s)
            return takeInputSpaceNotice(&s)
        }
        if notify { inputSpace?() }
    }

    /// Sets the line to whether an enabled interrupt is pending, if that changed.
    private func drive(_ s: inout State) {
        let level = s.registers.interruptPending
        if level != s.lineLevel {
            s.lineLevel = level
            line.set(level: level)
        }
    }

    private func takeInputSpaceNotice(_ s: inout State) -> Bool {
        guard s.inputRefused, !s.registers.loopback, s.registers.rx.freeSpace > 0 else { return false }
        s.inputRefused = false
        return true
    }
}
