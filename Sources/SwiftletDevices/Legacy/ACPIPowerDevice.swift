/// The hardware-reduced ACPI power registers the FADT names (ACPI 6.5 §4.8.3.7–4.8.3.8):
/// sleep control at offset 0 (port 0x600), sleep status at offset 1 (0x601) and the reset
/// register at offset 4 (0x604).
///
/// Only S5 is supported: writing SLP_EN with SLP_TYP 5 (the DSDT's `\_S5_`) powers off.
/// Other sleep types are reported to `unsupportedSleep` and otherwise ignored, which the
/// guest sees as a sleep that returned at once.
public final class ACPIPowerDevice: BusDevice {
    public static let windowSize: UInt64 = 8
    static let sleepControl: UInt64 = 0
    static let sleepStatus: UInt64 = 1
    static let resetRegister: UInt64 = 4

    /// SLP_EN (bit 5) and SLP_TYP (bits 4:2) of the sleep control register.
    static let sleepEnable: UInt8 = 0x20
    /// The SLP_TYP of `\_S5_` in our DSDT.
    public static let softOffType: UInt8 = 5
    /// The FADT's RESET_VALUE.
    public static let resetValue: UInt8 = 1

    private let control: any MachineControl
    private let unsupportedSleep: (@Sendable (UInt8) -> Void)?

    /// `unsupportedSleep` hears the SLP_TYP of any sleep request other than S5.
    public init(control: any MachineControl, unsupportedSleep: (@Sendable (UInt8) -> Void)? = nil) {
        self.control = control
        self.unsupportedSleep = unsupportedSleep
    }

    /// Every register reads 0: SLP_EN is write-only and no wake event is ever pending
    /// (WAK_STS in the status register is write-1-to-clear and never set).
    public func read(offset: UInt64, size: Int) -> UInt64 {
        ByteLanes.read(offset: offset, size: size, width: Self.windowSize) { _ in 0 }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        var requests: [MachineRequest] = []
        ByteLanes.write(offset: offset, size: size, value: value, width: Self.windowSize) { port, byte in
            switch port {
            case Self.sleepControl where byte & Self.sleepEnable != 0:
                let type = (byte >> 2) & 0x7
                if type == Self.softOffType {
                    requests.append(.powerOff)
                } else {
                    unsupportedSleep?(type)
                }
            case Self.resetRegister where byte == Self.resetValue:
                requests.append(.reset)
            default:
                break  // sleep status: write-1-to-clear of bits that are never set
            }
        }
        for request in requests { control.request(request) }
    }
}
