/// The Root System Description Pointer, revision 2 (ACPI 6.5 §5.2.5.3): the one
/// structure the guest finds by address, pointing at the XSDT.
public enum RSDP {
    public static let size = 36
    public static let signature = "RSD PTR "

    /// The 36-byte RSDP. The 32-bit RSDT pointer is zero: there is only an XSDT.
    public static func encode(xsdtAddress: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.append(ascii: signature, width: 8)
        bytes.append(0)  // checksum of the first 20 bytes (the ACPI 1.0 structure)
        bytes.append(ascii: ACPITable.oemID, width: 6)
        bytes.append(2)  // revision 2: ACPI 2.0+ with XSDT
        bytes.append(le: UInt32(0))  // RsdtAddress
        bytes.append(le: UInt32(size))
        bytes.append(le: xsdtAddress)
        bytes.append(0)  // extended checksum over all 36 bytes
        bytes += [0, 0, 0]
        bytes[8] = ACPIChecksum.fix(bytes[0..<20])
        bytes[32] = ACPIChecksum.fix(bytes)
        return bytes
    }
}
