/// The Differentiated System Description Table: `\_S5_` for power-off and, under `\_SB`,
/// the devices Linux cannot discover by itself.
public enum DSDT {
    /// DSDT revision 2: integers are 64 bits (§5.2.11.1).
    public static let revision: UInt8 = 2

    /// `Name(_S5_, Package() {5, 5, 0, 0})`: SLP_TYP 5 for the S5 (soft-off) state, which
    /// `ACPIPowerDevice` recognises in the sleep control register.
    public static let s5 = AML.name("_S5_", .package([5, 5, 0, 0] as [UInt64]))

    /// The table: `\_S5_` at the root and `devices` inside `Scope(\_SB)`.
    public static func table(devices: [AML]) -> ACPITable {
        let terms = [s5, .scope("\\_SB_", devices)]
        return ACPITable(signature: "DSDT", revision: revision, body: terms.flatMap(\.bytes))
    }
}

/// AML for the devices of a PC that firmware must describe: each a `Device` with `_HID`,
/// `_UID` and a `_CRS` of its ports and IRQ, as QEMU's SeaBIOS-era DSDT has them.
public enum AMLDevices {
    /// A 16550A UART (PNP0501).
    public static func serial(name: String = "COM1", uid: UInt64 = 0, port: UInt16 = 0x3F8, irq: UInt8 = 4) -> AML {
        .device(name, [
            .name("_HID", .eisaID("PNP0501")),
            .name("_UID", .integer(uid)),
            .name("_CRS", .resourceTemplate([.ioPort(port, length: 8), .irqNoFlags([irq])])),
        ])
    }

    /// The i8042 keyboard controller (PNP0303). Linux's i8042 driver finds it through PNP;
    /// with no PS/2 mouse device (PNP0F13) described it leaves the aux port alone.
    public static func keyboard(dataPort: UInt16 = 0x60, commandPort: UInt16 = 0x64, irq: UInt8 = 1) -> AML {
        .device("PS2K", [
            .name("_HID", .eisaID("PNP0303")),
            .name("_UID", .integer(0)),
            .name("_CRS", .resourceTemplate([
                .ioPort(dataPort, length: 1), .ioPort(commandPort, length: 1), .irqNoFlags([irq]),
            ])),
        ])
    }

    /// The CMOS real-time clock (PNP0B00).
    public static func rtc(port: UInt16 = 0x70, irq: UInt8 = 8) -> AML {
        .device("RTC_", [
            .name("_HID", .eisaID("PNP0B00")),
            .name("_UID", .integer(0)),
            .name("_CRS", .resourceTemplate([.ioPort(port, length: 2), .irqNoFlags([irq])])),
        ])
    }

    /// QEMU's pvpanic device: Linux's pvpanic driver matches the string _HID "QEMU0001"
    /// and takes its one-byte I/O port from _CRS (QEMU's hw/misc/pvpanic-isa.c builds the
    /// same).
    public static func pvpanic(port: UInt16 = 0x505) -> AML {
        .device("PEVT", [
            .name("_HID", .string("QEMU0001")),
            .name("_UID", .integer(0)),
            .name("_CRS", .resourceTemplate([.ioPort(port, length: 1)])),
        ])
    }

    /// A virtio-mmio device (Linux's virtio_mmio driver matches _HID "LNRO0005"): its
    /// register window and its own IOAPIC pin, edge-triggered and active-high as the
    /// transport drives it (`VirtioMMIODevice`). Named VR00, VR01... by `index`.
    public static func virtioMMIO(index: Int, base: UInt32, size: UInt32, gsi: UInt32) -> AML {
        let hex = String(index & 0xFF, radix: 16, uppercase: true)
        return .device("VR" + (hex.count < 2 ? "0" : "") + hex, [
            .name("_HID", .string("LNRO0005")),
            .name("_UID", .integer(UInt64(index))),
            .name("_CRS", .resourceTemplate([
                .memory32Fixed(base: base, length: size),
                .interrupt(gsis: [gsi], edgeTriggered: true, activeLow: false),
            ])),
        ])
    }

    /// COM1, the keyboard controller and the RTC at their PC addresses.
    public static var legacyPC: [AML] {
        [serial(), keyboard(), rtc()]
    }
}
