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
            return device.withCore { core, interrupt in
                guard let interrupt else { return serial.receive(bytes) }
                do {
                    let (accepted, needsInterrupt) = try core.receive(bytes)
                    if needsInterrupt { interrupt.signalUsed(queue: VirtioConsole.receiveQueue) }
                    return accepted
                } catch {
                    interrupt.signalNeedsReset()
                    return bytes.count
                }
            }
        }
        return device
    }
}
