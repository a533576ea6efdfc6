import Logging
import Synchronization
import SwiftletDevices

/// A virtio disk: its file is opened once, when the machine is made, and kept across
/// guest resets; PATCH /drives points it at another file while the guest runs.
final class DiskSpec: DeviceSpec {
    let name: String
    private struct State {
        var file: BlockBackingFile
        /// The running boot's device, to swap the file under (weak: a boot's devices go
        /// with it).
        weak var live: TransportedDevice<VirtioBlock>?
    }
    private let state: Mutex<State>

    init(_ disk: MachineConfig.Disk, index: Int, logger: Logger) throws {
        name = "virtio disk " + Self.deviceName(index)
        let file = try BlockBackingFile(path: disk.path, readOnly: disk.readOnly)
        state = Mutex(State(file: file))
        let trailing = file.ignoredTrailingBytes
        logger.debug("disk \(disk.path): \(file.sectors) sectors\(disk.readOnly ? ", read-only" : "")\(trailing > 0 ? ", last \(trailing) bytes ignored (not a whole sector)" : "")")
    }

    /// vda, vdb, ... vdz, vdaa: Linux's names for the disks, in order.
    static func deviceName(_ index: Int) -> String {
        var name = ""
        var n = index
        repeat {
            name = String(UnicodeScalar(UInt8(97 + n % 26))) + name
            n = n / 26 - 1
        } while n >= 0
        return "vd" + name
    }

    func build(in boot: DeviceBuildContext) throws -> any VirtioDevice {
        state.withLock { state in
            let device = TransportedDevice(VirtioBlock(file: state.file), trace: boot.trace(name))
            state.live = device
            return device
        }
    }

    func flush() throws {
        try state.withLock { $0.file }.flushToStorage()
    }

    /// Serves the disk from `path` from now on, opened in the same mode; the running
    /// driver hears of the new capacity through a configuration-change interrupt.
    func replace(path: String) throws(VMError) {
        let readOnly = state.withLock { $0.file.readOnly }
        let file: BlockBackingFile
        do {
            file = try BlockBackingFile(path: path, readOnly: readOnly)
        } catch {
            throw VMError(error.description)
        }
        let (old, live) = state.withLock { state in
            defer { state.file = file }
            return (state.file, state.live)
        }
        // What the guest wrote to the old file reaches storage before we let it go.
        try? old.flushToStorage()
        live?.withCore { core, interrupt in
            if core.replaceBackingFile(file) { interrupt?.signalConfigChange() }
        }
    }
}
