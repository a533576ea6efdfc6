import Logging
import SwiftletDevices
import SwiftletHost

/// One virtio device of the machine as configured, holding the host resources it keeps
/// for the whole run (a disk's open file, a tap): every boot builds a fresh device over
/// them, so a guest reset reopens nothing by path. The machine's devices are an ordered
/// list of these — the order is the guest's (vda before vdb, eth0 before eth1) — and each
/// is built, flushed and released the same way.
protocol DeviceSpec: AnyObject, Sendable {
    /// How logs and --verbose name it: "virtio disk vda".
    var name: String { get }
    /// This boot's device, over the kept resources.
    func build(in boot: DeviceBuildContext) throws -> any VirtioDevice
    /// The boot ended and nothing runs: what the guest wrote goes to storage.
    func flush() throws
}

extension DeviceSpec {
    func flush() throws {}
}

/// What a device needs from the boot that builds it.
struct DeviceBuildContext {
    let loop: EventLoop
    let logger: Logger
    /// Where the guest's console bytes go (the front end's choice).
    let consoleOutput: @Sendable ([UInt8]) -> Void
    let console: ConsoleInput
    /// The 8250, which takes host input until the virtio console's driver runs.
    let serial: Serial8250

    /// A --verbose tracer for the device called `name`.
    func trace(_ name: String) -> @Sendable (String) -> Void {
        { [logger] in logger.trace("\(name): \($0)") }
    }
}

/// The machine's virtio devices in the guest's order, made from the configuration once
/// per run. Opening happens here, so a bad disk or tap fails before anything boots.
enum MachineDevices {
    static func specs(for config: MachineConfig, logger: Logger) throws -> [any DeviceSpec] {
        var specs: [any DeviceSpec] = [ConsoleSpec()]
        for (index, disk) in config.disks.enumerated() {
            specs.append(try DiskSpec(disk, index: index, logger: logger))
        }
        specs += try NetworkCards.specs(for: config.networks, logger: logger)
        if config.rng { specs.append(RngSpec()) }
        return specs
    }
}

/// The virtio entropy device: nothing to keep between boots.
final class RngSpec: DeviceSpec {
    let name = "virtio rng"
    func build(in boot: DeviceBuildContext) throws -> any VirtioDevice {
        TransportedDevice(try VirtioRng(), trace: boot.trace(name))
    }
}
