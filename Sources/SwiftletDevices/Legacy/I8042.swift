import Synchronization

/// The 8042 keyboard controller, enough of it for Linux's i8042 and atkbd probes and for
/// the reset line that `reboot=k` (and the kernel's fallback) pulses.
///
/// The window is 0x60..0x64: offset 0 is the data port, offset 4 the command/status
/// port; offsets 1..3 (port 0x61 and friends) float high. Commands complete at once, so
/// IBF never reads set. There is a keyboard that answers commands and has one chord to
/// press, Ctrl+Alt+Del (Firecracker's SendCtrlAltDel, on which Linux restarts), and no
/// mouse: aux-port traffic is answered with 0xFE, as a controller does when the aux
/// device times out.
public final class I8042: BusDevice {
    public static let windowSize: UInt64 = 5
    static let dataPort: UInt64 = 0
    static let commandPort: UInt64 = 4

    // Status register bits.
    static let statusOutputFull: UInt8 = 0x01
    static let statusInputFull: UInt8 = 0x02
    static let statusSystem: UInt8 = 0x04
    static let statusCommand: UInt8 = 0x08  // last write went to the command port
    static let statusUnlocked: UInt8 = 0x10  // keyboard inhibit switch off
    static let statusAuxData: UInt8 = 0x20
    // Controller configuration byte (CTR) bits.
    static let ctrKeyboardInterrupt: UInt8 = 0x01
    static let ctrAuxInterrupt: UInt8 = 0x02
    static let ctrSystem: UInt8 = 0x04
    static let ctrKeyboardDisabled: UInt8 = 0x10
    static let ctrAuxDisabled: UInt8 = 0x20
    static let ctrTranslate: UInt8 = 0x40
    /// What firmware leaves: translation on, system flag set, keyboard interrupt on, aux off.
    public static let defaultCTR: UInt8 = 0x65

    /// Bytes waiting in the output buffer, each from the keyboard side or the aux side.
    private struct Output {
        var byte: UInt8
        var aux: Bool
    }

    /// Which data-port write a controller command is waiting for.
    private enum Pending {
        case none, writeCTR, writeOutputPort, fakeKeyboardByte, fakeAuxByte, auxCommand
        /// A keyboard command that takes an argument byte (0xED LEDs, 0xF3 rate, 0xF0 set).
        case keyboardArgument(UInt8)
    }

    private struct State {
        var ctr = I8042.defaultCTR
        /// Output port: bit 0 is the CPU reset line (active low), bit 1 the A20 gate.
        var outputPort: UInt8 = 0x03
        var lastWriteWasCommand = false
        var pending = Pending.none
        var output: [Output] = []
        var keyboardLevel = false
        var auxLevel = false
        /// Keystrokes the keyboard holds, in set 2, until the controller may take them.
        var keystrokes = ByteFIFO(capacity: I8042.keystrokeCapacity)
        /// Off between the keyboard commands 0xF5 (disable) and 0xF4 (enable): atkbd's probe
        /// turns scanning off so that no keystroke lands among the replies it waits for.
        var scanning = true
    }

    /// A real keyboard buffers 16 keys; 64 bytes hold five Ctrl+Alt+Dels (11 bytes each)
    /// and keep a client that presses in a loop from growing us without end.
    static let keystrokeCapacity = 64

    private let state = Mutex(State())
    private let keyboardLine: any InterruptLine
    private let auxLine: (any InterruptLine)?
    private let control: any MachineControl

    /// - Parameters:
    ///   - keyboardInterrupt: IRQ 1.
    ///   - auxInterrupt: IRQ 12, if the machine wires it; nothing drives it without a mouse
    ///     except the controller's own 0xD3 loop-back writes.
    ///   - control: receives `.reset` when the guest pulses the reset line.
    public init(keyboardInterrupt: any InterruptLine, auxInterrupt: (any InterruptLine)? = nil, control: any MachineControl) {
        self.keyboardLine = keyboardInterrupt
        self.auxLine = auxInterrupt
        self.control = control
    }

    /// Presses and releases Ctrl+Alt+Del. The keyboard holds the scan codes until the guest
    /// can take them: one byte at a time, each with its own IRQ 1, while the keyboard
    /// port is enabled, its interrupt is on and the keyboard is scanning. Returns false,
    /// queuing nothing, if the keyboard's buffer has no room for the whole chord (half a
    /// chord would leave keys held down in the guest).
    @discardableResult
    public func pressCtrlAltDel() -> Bool {
        state.withLock { s in
            let chord = PS2Scancodes.controlAltDelete
            guard s.keystrokes.freeSpace >= chord.count else { return false }
            for byte in chord { s.keystrokes.push(byte) }
            drive(&s)
            return true
        }
    }

    /// Power-on state (a guest reset).
    public func reset() {
        state.withLock { s in
            s = State(keyboardLevel: s.keyboardLevel, auxLevel: s.auxLevel)
            drive(&s)
        }
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        state.withLock { s in
            ByteLanes.read(offset: offset, size: size, width: Self.windowSize) { port in
                switch port {
                case Self.dataPort: return readData(&s)
                case Self.commandPort: return status(s)
                default: return 0xFF
                }
            }
        }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        var resetRequested = false
        state.withLock { s in
            ByteLanes.write(offset: offset, size: size, value: value, width: Self.windowSize) { port, byte in
                switch port {
                case Self.dataPort:
                    s.lastWriteWasCommand = false
                    if writeData(&s, byte) { resetRequested = true }
                case Self.commandPort:
                    s.lastWriteWasCommand = true
                    if command(&s, byte) { resetRequested = true }
                default:
                    break
                }
            }
            drive(&s)
        }
        // Outside the lock: the machine may stop vCPUs, one of which could be waiting on it.
        if resetRequested { control.request(.reset) }
    }

    private func status(_ s: State) -> UInt8 {
        var status = Self.statusUnlocked
        if let head = s.output.first {
            status |= Self.statusOutputFull
            if head.aux { status |= Self.statusAuxData }
        }
        if s.ctr & Self.ctrSystem != 0 { status |= Self.statusSystem }
        if s.lastWriteWasCommand { status |= Self.statusCommand }
        return status
    }

    private func readData(_ s: inout State) -> UInt8 {
        guard !s.output.isEmpty else { return 0 }
        let head = s.output.removeFirst()
        // Linux takes one byte per interrupt and IRQ 1 is edge-triggered: drop the line so
        // that the next byte, if any, raises it afresh.
        setLevels(&s, keyboard: false, aux: false)
        drive(&s)
        return head.byte
    }

    /// A controller command (port 0x64). Returns whether it pulses the reset line.
    private func command(_ s: inout State, _ byte: UInt8) -> Bool {
        s.pending = .none
        switch byte {
        case 0x20: queue(&s, s.ctr)  // read CTR
        case 0x60: s.pending = .writeCTR
        case 0xA7: s.ctr |= Self.ctrAuxDisabled
        case 0xA8: s.ctr &= ~Self.ctrAuxDisabled
        case 0xA9: queue(&s, 0x00)  // aux interface test: no fault
        case 0xAA: queue(&s, 0x55)  // controller self test passed
        case 0xAB: queue(&s, 0x00)  // keyboard interface test: no fault
        case 0xAD: s.ctr |= Self.ctrKeyboardDisabled
        case 0xAE: s.ctr &= ~Self.ctrKeyboardDisabled
        case 0xD0: queue(&s, s.outputPort)
        case 0xD1: s.pending = .writeOutputPort
        case 0xD2: s.pending = .fakeKeyboardByte
        case 0xD3: s.pending = .fakeAuxByte
        case 0xD4: s.pending = .auxCommand
        case 0xF0...0xFF:
            // Pulse output-port lines: a clear bit 0 pulses the CPU reset line.
            return byte & 0x01 == 0
        default:
            break  // unknown commands are ignored, as many real controllers do
        }
        return false
    }

    /// A data-port write: a command's argument or a byte for the keyboard. Returns whether
    /// it pulls the reset line.
    private func writeData(_ s: inout State, _ byte: UInt8) -> Bool {
        let pending = s.pending
        s.pending = .none
        switch pending {
        case .writeCTR:
            s.ctr = byte
        case .writeOutputPort:
            s.outputPort = byte
            return byte & 0x01 == 0  // reset line is active low
        case .fakeKeyboardByte:
            queue(&s, byte)
        case .fakeAuxByte:
            queue(&s, byte, aux: true)
        case .auxCommand:
            queue(&s, 0xFE, aux: true)  // no mouse: the aux device never answers
        case .keyboardArgument(let command):
            s.ctr &= ~Self.ctrKeyboardDisabled
            queue(&s, 0xFA)
            if command == 0xF0 && byte == 0 { queue(&s, 0x02) }  // "which scan code set?": 2
        case .none:
            s.ctr &= ~Self.ctrKeyboardDisabled  // writing to the keyboard enables its clock
            keyboardCommand(&s, byte)
        }
        return false
    }

    /// The keyboard's side of a command (a PS/2 MF2 keyboard, IBM PS/2 Technical Reference).
    private func keyboardCommand(_ s: inout State, _ byte: UInt8) {
        switch byte {
        case 0xFF:  // reset and self test: the buffer empties, ACK, then BAT passed
            s.keystrokes.removeAll()
            s.scanning = true
            queue(&s, 0xFA)
            queue(&s, 0xAA)
        case 0xF5:  // disable: stop scanning; held keystrokes wait for 0xF4
            s.scanning = false
            queue(&s, 0xFA)
        case 0xF4:  // enable
            s.scanning = true
            queue(&s, 0xFA)
        case 0xF2:  // identify: MF2 keyboard, ID translated when the controller translates
            queue(&s, 0xFA)
            queue(&s, 0xAB)
            queue(&s, s.ctr & Self.ctrTranslate != 0 ? 0x41 : 0x83)
        case 0xEE:  // echo
            queue(&s, 0xEE)
        case 0xED, 0xF3, 0xF0:
            queue(&s, 0xFA)
            s.pending = .keyboardArgument(byte)
        default:  // enable, disable, set defaults, typematic modes...: acknowledged
            queue(&s, 0xFA)
        }
    }

    private func queue(_ s: inout State, _ byte: UInt8, aux: Bool = false) {
        // A real output buffer holds one byte; a short queue stands in for the device's
        // own buffer. Sixteen is far beyond what any command produces.
        guard s.output.count < 16 else { return }
        s.output.append(Output(byte: byte, aux: aux))
    }

    private func setLevels(_ s: inout State, keyboard: Bool, aux: Bool) {
        if s.keyboardLevel != keyboard {
            s.keyboardLevel = keyboard
            keyboardLine.set(level: keyboard)
        }
        if s.auxLevel != aux {
            s.auxLevel = aux
            auxLine?.set(level: aux)
        }
    }

    /// Moves the keyboard's next keystroke into an empty output buffer, translated to set 1
    /// if the CTR asks. Unlike a real controller, which would take it with the interrupt
    /// off too, it waits for the keyboard interrupt: Linux turns that off only while it
    /// polls for command replies, and a keystroke read there would be taken for one.
    private func deliverKeystroke(_ s: inout State) {
        guard s.output.isEmpty, s.scanning,
            s.ctr & Self.ctrKeyboardDisabled == 0, s.ctr & Self.ctrKeyboardInterrupt != 0,
            let code = s.keystrokes.pop()
        else { return }
        guard s.ctr & Self.ctrTranslate != 0 else { return queue(&s, code) }
        if code == PS2Scancodes.breakPrefix {
            // Chords are queued whole, so a break code always follows its prefix.
            guard let made = s.keystrokes.pop() else { return }
            queue(&s, PS2Scancodes.translated(made) | 0x80)
        } else {
            queue(&s, PS2Scancodes.translated(code))
        }
    }

    /// IRQ 1 is high while keyboard data waits and the CTR enables it; IRQ 12 likewise for
    /// aux data. A keystroke moves into an empty output buffer first.
    private func drive(_ s: inout State) {
        deliverKeystroke(&s)
        let head = s.output.first
        let keyboard = (head.map { !$0.aux } ?? false) && s.ctr & Self.ctrKeyboardInterrupt != 0
        let aux = (head?.aux ?? false) && s.ctr & Self.ctrAuxInterrupt != 0
        setLevels(&s, keyboard: keyboard, aux: aux)
    }
}
