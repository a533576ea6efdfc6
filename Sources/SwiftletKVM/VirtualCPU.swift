#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// One virtual CPU: its file descriptor and the kvm_run page KVM shares with us.
///
/// A vCPU belongs to one thread, which calls `run()` in a loop. The only thing other
/// threads may touch is `requestExit()`, which makes the next (or current) run return.
public final class VirtualCPU: @unchecked Sendable {
    // @unchecked: all state but `immediate_exit` is used only by the vCPU's own thread.
    public let id: Int
    let fd: KVMDescriptor
    private let run: UnsafeMutableRawPointer
    private let runSize: Int

    init(id: Int, fd: KVMDescriptor, run: UnsafeMutableRawPointer, runSize: Int) {
        self.id = id
        self.fd = fd
        self.run = run
        self.runSize = runSize
    }

    deinit { munmap(run, runSize) }

    private var state: UnsafeMutablePointer<kvm_run> { run.assumingMemoryBound(to: kvm_run.self) }

    /// Enters the guest until something needs us.
    public func runOnce() throws(KVMError) -> VcpuExit {
        if ckvm_ioctl_value(fd.raw, CKVM_RUN, 0) < 0 {
            let error = errno
            // EINTR: a signal came for us (see requestExit); EAGAIN: an AP waiting for SIPI
            // was poked. Both mean "look around and run again".
            if error == EINTR || error == EAGAIN {
                ckvm_set_immediate_exit(state, 0)
                return .interrupted
            }
            throw .ioctlFailed(what: "run vCPU \(id)", errno: error)
        }
        let run = state.pointee
        switch Int32(run.exit_reason) {
        case KVM_EXIT_IO:
            let io = run.io
            let size = Int(io.size), count = Int(io.count)
            let port = io.port
            return io.direction == UInt8(KVM_EXIT_IO_OUT)
                ? .portOut(port: port, size: size, count: count)
                : .portIn(port: port, size: size, count: count)
        case KVM_EXIT_MMIO:
            let mmio = run.mmio
            let size = min(Int(mmio.len), 8)
            if mmio.is_write != 0 {
                var value: UInt64 = 0
                withUnsafeMutableBytes(of: &value) { target in
                    withUnsafeBytes(of: mmio.data) { source in
                        target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<size]))
                    }
                }
                return .mmioWrite(address: mmio.phys_addr, size: size, value: value)
            }
            return .mmioRead(address: mmio.phys_addr, size: size)
        case KVM_EXIT_HLT: return .halt
        case KVM_EXIT_SHUTDOWN: return .shutdown
        case KVM_EXIT_SYSTEM_EVENT: return .systemEvent(run.system_event.type)
        case KVM_EXIT_INTERNAL_ERROR: return .internalError(suberror: run.internal.suberror)
        case KVM_EXIT_FAIL_ENTRY: return .failedEntry(reason: run.fail_entry.hardware_entry_failure_reason)
        case KVM_EXIT_INTR: return .interrupted
        default: return .unhandled(reason: run.exit_reason)
        }
    }

    /// The bytes of the current port exit's data, bounds-checked against the run page.
    private func ioData(index: Int, size: Int) -> UnsafeMutableRawBufferPointer? {
        let io = state.pointee.io
        let offset = Int(io.data_offset) + index * size
        guard size > 0, size <= 8, index >= 0, offset >= 0, offset + size <= runSize else { return nil }
        return UnsafeMutableRawBufferPointer(start: run + offset, count: size)
    }

    /// Item `index` of the current OUT exit.
    public func portOutValue(at index: Int, size: Int) -> UInt64 {
        guard let bytes = ioData(index: index, size: size) else { return 0 }
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(bytes)) }
        return value
    }

    /// The answer to item `index` of the current IN exit.
    public func completePortIn(at index: Int, size: Int, value: UInt64) {
        guard let bytes = ioData(index: index, size: size) else { return }
        withUnsafeBytes(of: value) { bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
    }

    /// The answer to the current MMIO read.
    public func completeMMIORead(size: Int, value: UInt64) {
        let size = min(max(size, 0), 8)
        withUnsafeMutableBytes(of: &state.pointee.mmio.data) { target in
            withUnsafeBytes(of: value) { target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<size])) }
        }
    }

    /// Makes the next KVM_RUN return at once (the caller then signals the thread so that
    /// a run in progress returns too). Safe from any thread.
    public func requestExit() {
        // An atomic byte store that KVM reads on entry; the signal that follows is a full barrier.
        ckvm_set_immediate_exit(state, 1)
    }
}
