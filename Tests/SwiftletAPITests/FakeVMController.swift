#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import SwiftletMachine

/// A VMController that records what the API asked of it; `failNext` makes the next call
/// fail with that message.
final class FakeVMController: VMController {
    struct Record {
        var state: VMState = .notStarted
        var started: MachineConfig?
        var calls: [String] = []
        var failNext: String?
        var stopped = false
    }

    let record = Mutex(Record())

    var state: VMState { record.withLock { $0.state } }
    var calls: [String] { record.withLock { $0.calls } }
    var startedConfig: MachineConfig? { record.withLock { $0.started } }

    func failNext(_ message: String) { record.withLock { $0.failNext = message } }

    private func call(_ name: String, _ change: (inout Record) -> Void = { _ in }) throws(VMError) {
        let failure: String? = record.withLock { record in
            record.calls.append(name)
            if let message = record.failNext {
                record.failNext = nil
                return message
            }
            change(&record)
            return nil
        }
        if let failure { throw VMError(failure) }
    }

    func start(_ config: MachineConfig) throws(VMError) {
        try call("start") { $0.started = config; $0.state = .running }
    }
    func pause() throws(VMError) { try call("pause") { $0.state = .paused } }
    func resume() throws(VMError) { try call("resume") { $0.state = .running } }
    func sendCtrlAltDel() throws(VMError) { try call("ctrlAltDel") }
    func replaceDisk(at index: Int, path: String) throws(VMError) { try call("replaceDisk \(index) \(path)") }
    func stop() { record.withLock { $0.stopped = true; $0.state = .stopped } }
    func waitUntilStopped() -> Int32 { 0 }
}

/// A scratch directory with a few files the endpoints can open.
struct Scratch {
    let directory: String
    var kernel: String { directory + "/vmlinux" }
    var initrd: String { directory + "/initrd" }
    var disk: String { directory + "/disk.img" }
    var otherDisk: String { directory + "/other.img" }
    var readOnlyDisk: String { directory + "/readonly.img" }

    init() {
        var template = Array("/tmp/swiftlet-api-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return "/tmp" }
            return String(cString: base)
        }
        for path in [kernel, initrd, disk, otherDisk, readOnlyDisk] {
            let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
            _ = write(fd, "data", 4)
            close(fd)
        }
        chmod(readOnlyDisk, 0o444)
    }

    func remove() {
        for path in [kernel, initrd, disk, otherDisk, readOnlyDisk] { unlink(path) }
        rmdir(directory)
    }
}
