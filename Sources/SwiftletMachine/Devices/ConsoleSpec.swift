import SwiftletDevices

/// The virtio console. Host input goes to it once its driver runs, to the 8250 before
/// (and to nothing while no boot runs: ConsoleInput holds it back).
final class ConsoleSpec: DeviceSpec {
    let name = "virtio console"

    func build(in boot: DeviceBuildContext) throws -> any VirtioDevice {
        let console = boot.console
        let device = TransportedDevice(
            VirtioConsole(output: boot.consoleOutput, inputSpace: console.spaceAvailable), trace: boot.trace(name))
        let serial = boot.serial
        console.attach { [weak device] bytes in
            guard let device else { return 0 }
            if let accepted = device.withRunningCore(interrupting: VirtioConsole.receiveQueue, { core throws(VirtqueueError) in
                let (accepted, interrupt) = try core.receive(bytes)
                return (accepted, interrupt: interrupt)
            }) {
                return accepted
            }
            // Before DRIVER_OK the 8250 takes it; a console that needs a reset takes
            // nothing until the guest resets it (the bytes are dropped, not retried).
            return device.needsReset ? bytes.count : serial.receive(bytes)
        }
        return device
    }
}
