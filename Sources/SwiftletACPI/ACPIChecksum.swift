/// ACPI checksums: a table's bytes, checksum field included, sum to zero mod 256
/// (ACPI 6.5 §5.2.5.3 RSDP, §5.2.6 System Description Table Header).
public enum ACPIChecksum {
    /// The byte sum of `bytes` mod 256; zero for a correctly checksummed table.
    public static func sum<C: Collection<UInt8>>(_ bytes: C) -> UInt8 {
        bytes.reduce(0, &+)
    }

    /// The value that makes `bytes` (whose checksum byte is still zero) sum to zero.
    public static func fix<C: Collection<UInt8>>(_ bytes: C) -> UInt8 {
        0 &- sum(bytes)
    }
}
