/// QEMU's pvpanic device at one I/O port (QEMU docs/specs/pvpanic.rst): the guest kernel
/// writes an event when it panics, so the VMM can report a crash instead of watching a
/// guest that will never say anything again. Linux binds it by the ACPI _HID "QEMU0001"
/// (drivers/misc/pvpanic/pvpanic-mmio.c, CONFIG_PVPANIC_MMIO).
public final class PVPanic: BusDevice {
    /// The port QEMU's ISA pvpanic uses, and so the one guests expect.
    public static let port: UInt64 = 0x505
    /// Bit 0: the guest panicked.
    public static let panicked: UInt8 = 1 << 0
    /// Bit 1: the guest loaded a crash kernel and is about to run it.
    public static let crashLoaded: UInt8 = 1 << 1

    private let onEvent: @Sendable (UInt8) -> Void

    /// `onEvent` hears every non-zero byte the guest writes (any vCPU thread).
    public init(onEvent: @escaping @Sendable (UInt8) -> Void) {
        self.onEvent = onEvent
    }

    /// A read says which events we understand; the driver only sends those.
    public func read(offset: UInt64, size: Int) -> UInt64 {
        offset == 0 ? UInt64(Self.panicked | Self.crashLoaded) : 0
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        let event = UInt8(truncatingIfNeeded: value)
        guard offset == 0, event != 0 else { return }
        onEvent(event)
    }
}
