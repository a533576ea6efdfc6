#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The PC's MC146818-style CMOS clock and its 128 bytes of battery-backed RAM.
///
/// Offset 0 (port 0x70) selects a register (bit 7 is the NMI mask on a PC; ignored);
/// offset 1 (port 0x71) reads or writes it. The time registers always show the host's
/// UTC clock, encoded as register B asks (BCD or binary, 24- or 12-hour); guest writes to
/// them are kept as RAM but do not move the clock. Everything else is RAM that lives as
/// long as this object, which the machine keeps across guest resets as a battery would.
public final class CMOSRTC: BusDevice {
    public static let windowSize: UInt64 = 2
    public static let ramSize = 128

    // Registers (MC146818A datasheet; century at 0x32 by IBM PC convention, which the
    // FADT's CENTURY field also names).
    static let seconds = 0x00, minutes = 0x02, hours = 0x04, weekday = 0x06
    static let dayOfMonth = 0x07, month = 0x08, year = 0x09
    static let registerA = 0x0A, registerB = 0x0B, registerC = 0x0C, registerD = 0x0D
    static let century = 0x32

    /// Register B: binary (not BCD) data mode and 24-hour mode.
    static let binaryMode: UInt8 = 0x04, twentyFourHour: UInt8 = 0x02
    static let updateInterruptEnable: UInt8 = 0x10
    /// Register C: interrupt request and update-ended flags.
    static let irqFlag: UInt8 = 0x80, updateEnded: UInt8 = 0x10
    /// Register A: 32.768 kHz time base (divider 010), 1.024 kHz periodic rate; UIP clear.
    public static let defaultRegisterA: UInt8 = 0x26
    /// Register B: 24-hour, BCD, no interrupts.
    public static let defaultRegisterB: UInt8 = 0x02
    /// Register D: valid RAM and time (the battery is good).
    static let validRAM: UInt8 = 0x80

    struct State {
        var index = 0
        var ram: [UInt8]
        /// The clock's second when register C was last read, to report update cycles since.
        var lastUpdateSeen: Int64
    }

    let state: Mutex<State>
    let clock: @Sendable () -> Int64

    /// The host's wall clock in seconds since the Unix epoch.
    public static let systemClock: @Sendable () -> Int64 = { Int64(time(nil)) }

    /// `clock` gives UTC seconds since the Unix epoch; tests inject their own.
    public init(clock: @escaping @Sendable () -> Int64 = CMOSRTC.systemClock) {
        self.clock = clock
        var ram = [UInt8](repeating: 0, count: Self.ramSize)
        ram[Self.registerA] = Self.defaultRegisterA
        ram[Self.registerB] = Self.defaultRegisterB
        state = Mutex(State(ram: ram, lastUpdateSeen: clock()))
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        state.withLock { s in
            ByteLanes.read(offset: offset, size: size, width: Self.windowSize) { port in
                port == 0 ? 0xFF : readRegister(&s)  // the index port is write-only
            }
        }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        state.withLock { s in
            ByteLanes.write(offset: offset, size: size, value: value, width: Self.windowSize) { port, byte in
                if port == 0 {
                    s.index = Int(byte & 0x7F)
                } else {
                    writeRegister(&s, byte)
                }
            }
        }
    }

    private func readRegister(_ s: inout State) -> UInt8 {
        let b = s.ram[Self.registerB]
        switch s.index {
        case Self.seconds, Self.minutes, Self.hours, Self.weekday, Self.dayOfMonth, Self.month, Self.year, Self.century:
            return timeField(s.index, of: CivilTime(unixTime: clock()), registerB: b)
        case Self.registerA:
            return s.ram[Self.registerA] & 0x7F  // update never in progress
        case Self.registerC:
            // Reading C acknowledges its flags. UF reports that an update cycle (a second
            // boundary) passed since the last read; IRQF goes with it only if UIE is set.
            let now = clock()
            var flags: UInt8 = 0
            if now != s.lastUpdateSeen {
                flags |= Self.updateEnded
                if b & Self.updateInterruptEnable != 0 { flags |= Self.irqFlag }
            }
            s.lastUpdateSeen = now
            return flags
        case Self.registerD:
            return Self.validRAM
        default:
            return s.ram[s.index]
        }
    }

    private func writeRegister(_ s: inout State, _ byte: UInt8) {
        switch s.index {
        case Self.registerA:
            s.ram[Self.registerA] = byte & 0x7F  // UIP is read-only
        case Self.registerC, Self.registerD:
            break  // read-only
        default:
            s.ram[s.index] = byte
        }
    }

    /// One time register, in the encoding register B selects.
    private func timeField(_ register: Int, of time: CivilTime, registerB b: UInt8) -> UInt8 {
        let binary = b & Self.binaryMode != 0
        func encode(_ value: Int) -> UInt8 {
            let v = UInt8(truncatingIfNeeded: value)
            return binary ? v : (v / 10) << 4 | v % 10
        }
        switch register {
        case Self.seconds: return encode(time.second)
        case Self.minutes: return encode(time.minute)
        case Self.hours:
            if b & Self.twentyFourHour != 0 { return encode(time.hour) }
            let twelve = time.hour % 12 == 0 ? 12 : time.hour % 12
            return encode(twelve) | (time.hour >= 12 ? 0x80 : 0)  // bit 7: PM
        case Self.weekday: return encode(time.weekday)
        case Self.dayOfMonth: return encode(time.day)
        case Self.month: return encode(time.month)
        case Self.year: return encode(time.year % 100)
        default: return encode(time.year / 100)  // century
        }
    }
}
