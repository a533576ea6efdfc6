extension AMLDevices {
    /// The PCI Express root bridge (PNP0A08, compatible with PNP0A03) of bus 0, whose _CRS
    /// tells the OS which windows the bridge decodes: the bus number, the 0xCF8 config
    /// ports, and the 32-bit MMIO window where BARs live. Linux keeps BARs that firmware
    /// (we) placed inside these windows, and only moves ones that fall outside.
    public static func pciRoot(mmioWindow: Range<UInt64>) -> AML {
        .device("PCI0", [
            .name("_HID", .eisaID("PNP0A08")),
            .name("_CID", .eisaID("PNP0A03")),
            .name("_ADR", .integer(0)),
            .name("_SEG", .integer(0)),
            .name("_UID", .integer(0)),
            .name("_BBN", .integer(0)),
            .name("_CRS", .resourceTemplate([
                .wordBusNumber(min: 0, max: 0),
                .io(min: 0xCF8, max: 0xCF8, alignment: 1, length: 8),
                .dwordMemory(min: UInt32(truncatingIfNeeded: mmioWindow.lowerBound),
                             max: UInt32(truncatingIfNeeded: mmioWindow.upperBound - 1), cacheable: false),
            ])),
        ])
    }
}
