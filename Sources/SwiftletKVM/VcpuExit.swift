/// Why KVM_RUN came back to us. Port and MMIO exits carry what the guest asked; the
/// answer to a read goes back through `VirtualCPU.completeRead` before the next run.
public enum VcpuExit: Equatable, Sendable {
    /// IN: `count` items of `size` bytes (count > 1 for INS with REP).
    case portIn(port: UInt16, size: Int, count: Int)
    /// OUT: read the items with `VirtualCPU.portOutValue(at:)`.
    case portOut(port: UInt16, size: Int, count: Int)
    case mmioRead(address: UInt64, size: Int)
    case mmioWrite(address: UInt64, size: Int, value: UInt64)
    /// HLT with nothing to wake it; only without an in-kernel LAPIC, which we never do.
    case halt
    /// A triple fault: the CPU gave up.
    case shutdown
    /// KVM_EXIT_SYSTEM_EVENT: its type (1 shutdown, 2 reset, 3 crash).
    case systemEvent(UInt32)
    /// KVM could not go on: `suberror` 1 is an instruction its emulator cannot run.
    case internalError(suberror: UInt32)
    /// Entering the guest failed at the hardware level.
    case failedEntry(reason: UInt64)
    /// A signal (or immediate_exit) interrupted the run: time to look at our flags.
    case interrupted
    /// Anything else, by number.
    case unhandled(reason: UInt32)
}
