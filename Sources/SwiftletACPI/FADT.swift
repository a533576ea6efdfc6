/// The Fixed ACPI Description Table ("FACP"), revision 6 layout (ACPI 6.5 §5.2.9, 276 bytes).
///
/// Swiftlet is a hardware-reduced ACPI platform (§4.1): no PM1 blocks, no SCI, no FACS.
/// Power-off and reset go through the sleep control and reset registers instead, which
/// `ACPIPowerDevice` implements at ports 0x600..0x607.
public struct FADT: Sendable, Equatable {
    public static let length = 276
    public static let revision: UInt8 = 6

    /// Flags (Table 5.10).
    public static let resetRegisterSupported: UInt32 = 1 << 10
    public static let hardwareReducedACPI: UInt32 = 1 << 20
    /// IA-PC boot architecture flags (Table 5.11): bit 1, an 8042 is present. Without it
    /// Linux assumes a hardware-reduced platform has no i8042 and never probes ours.
    public static let bootArch8042: UInt16 = 1 << 1

    // Field offsets from the start of the table (Table 5.9).
    public static let dsdtOffset = 40
    public static let centuryOffset = 108
    public static let bootArchOffset = 109
    public static let flagsOffset = 112
    public static let resetRegisterOffset = 116
    public static let resetValueOffset = 128
    public static let minorVersionOffset = 131
    public static let xDSDTOffset = 140
    public static let sleepControlOffset = 244
    public static let sleepStatusOffset = 256
    public static let hypervisorVendorOffset = 268

    public var flags: UInt32 = FADT.hardwareReducedACPI | FADT.resetRegisterSupported
    public var bootArch: UInt16 = FADT.bootArch8042
    /// The CMOS register holding the century, so the RTC driver reads 20xx.
    public var centuryRegister: UInt8 = 0x32
    public var resetRegister = GenericAddress.ioPort8(0x604)
    public var resetValue: UInt8 = 1
    public var sleepControl = GenericAddress.ioPort8(0x600)
    public var sleepStatus = GenericAddress.ioPort8(0x601)
    public var hypervisorVendor = "SWIFTLET"

    public init() {}

    /// The table, pointing at a DSDT placed at `dsdtAddress`. Only X_DSDT is set: §5.2.9
    /// says OSPM ignores DSDT when X_DSDT is non-zero, and ACPICA warns when both differ.
    public func table(dsdtAddress: UInt64) -> ACPITable {
        var body = [UInt8](repeating: 0, count: FADT.length - ACPITable.headerSize)
        func put(_ bytes: [UInt8], at offset: Int) {
            body.replaceSubrange((offset - ACPITable.headerSize)..<(offset - ACPITable.headerSize + bytes.count), with: bytes)
        }
        func gas(_ address: GenericAddress) -> [UInt8] {
            var bytes: [UInt8] = []
            address.append(to: &bytes)
            return bytes
        }
        var scratch: [UInt8] = []
        put([centuryRegister], at: FADT.centuryOffset)
        scratch.append(le: bootArch)
        put(scratch, at: FADT.bootArchOffset)
        scratch = []
        scratch.append(le: flags)
        put(scratch, at: FADT.flagsOffset)
        put(gas(resetRegister), at: FADT.resetRegisterOffset)
        put([resetValue], at: FADT.resetValueOffset)
        put([0], at: FADT.minorVersionOffset)  // 6.0
        scratch = []
        scratch.append(le: dsdtAddress)
        put(scratch, at: FADT.xDSDTOffset)
        put(gas(sleepControl), at: FADT.sleepControlOffset)
        put(gas(sleepStatus), at: FADT.sleepStatusOffset)
        scratch = []
        scratch.append(ascii: hypervisorVendor, width: 8)
        put(scratch, at: FADT.hypervisorVendorOffset)
        return ACPITable(signature: "FACP", revision: FADT.revision, body: body)
    }
}
