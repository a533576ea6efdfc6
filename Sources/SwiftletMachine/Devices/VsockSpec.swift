import Logging
import SwiftletDevices
import SwiftletHost

/// The virtio socket device. Its Unix socket is made once per run, before the first boot
/// (so an existing path is refused up front), and survives guest resets; each boot puts a
/// fresh device on it, and the previous boot's connections are closed when it does.
final class VsockSpec: DeviceSpec {
    let name: String
    let guestCID: UInt64
    let backend: VsockUnixBackend

    init(_ config: MachineConfig.Vsock, logger: Logger) throws(VsockSocketError) {
        guestCID = config.guestCID
        backend = try VsockUnixBackend(path: config.udsPath)
        name = "virtio vsock (cid \(config.guestCID), \(config.udsPath))"
        logger.info("vsock: guest CID \(config.guestCID), host socket \(config.udsPath)")
    }

    func build(in boot: DeviceBuildContext) throws -> any VirtioDevice {
        guard let core = VirtioVsock(guestCID: guestCID, backend: backend, clock: backend.clock) else {
            throw VsockSocketError(path: backend.path, detail: "guest CID \(guestCID) is out of range")
        }
        let trace = boot.trace(name)
        // Connection events only with --verbose: then no message is built otherwise.
        if boot.logger.logLevel <= .trace { core.trace = trace }
        let device = TransportedDevice(core, trace: trace)
        try backend.attach(loop: boot.loop) { [weak device] body in
            device?.withCore { core, interrupt in
                do {
                    if try body(core) { interrupt?.signalUsed(queue: VsockProtocol.receiveQueue) }
                } catch {
                    trace("a queue is broken, device needs a reset: \(error)")
                    interrupt?.signalNeedsReset()
                }
            }
        }
        return device
    }

    /// The run is over: the socket file goes.
    func close() { backend.close() }

    deinit { backend.close() }
}
