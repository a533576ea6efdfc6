#if canImport(Glibc)
import Glibc
#endif
import Logging
import SwiftletDevices
import SwiftletHost

/// A virtio-net device's packets to and from a tap, for one boot: the tap's descriptor is
/// non-blocking and sits in the boot's event loop only while the device wants packets
/// (the guest has receive buffers), so a guest that stops taking them costs nothing.
///
/// Called under the device's lock (TransportedDevice), from the loop or a vCPU.
/// `package`: swiftlet-devbench measures the device through this very backend.
package final class TapBackend: VirtioNetBackend, @unchecked Sendable {
    // @unchecked: mutable state is touched only under the device's lock.
    let tap: Tap
    /// Weak: the loop's handlers reach this backend through the device, and a cycle
    /// would keep the boot (and its guest memory) alive after a reset.
    private weak var loop: EventLoop?
    private let logger: Logger
    /// What the loop runs when the tap is readable; set once, before the guest runs.
    var onReadable: EventLoop.Handler = {}
    private var registered = false
    /// A read failed other than for want of packets; said once, not at every retry.
    private var readFailureReported = false

    package init(tap: Tap, loop: EventLoop, logger: Logger) {
        self.tap = tap
        self.loop = loop
        self.logger = logger
    }

    package func receive(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        while true {
            let count = read(tap.fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            if errno != EAGAIN { readFailed(errno) }
            return nil
        }
    }

    /// A read fails for good, not for a while: besides EAGAIN, a tap's read fails once its
    /// interface is deleted (EBADFD), and the descriptor then polls as an error for ever,
    /// for which the level-triggered loop would call us for ever. So stop watching the
    /// tap. The device still believes it listens; when the guest restarts the card, its
    /// next start of listening watches the tap again, at the cost of one failed read.
    private func readFailed(_ error: Int32) {
        if !readFailureReported {
            readFailureReported = true
            logger.error("\(tap.name): read failed (\(String(cString: strerror(error)))); not receiving from it until the guest restarts the card")
        }
        if registered, let loop {
            loop.remove(tap.fd)
            registered = false
        }
    }

    package func send(_ buffers: [UnsafeMutableRawBufferPointer]) -> Bool {
        let vectors = buffers.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        let total = buffers.reduce(0) { $0 + $1.count }
        while true {
            let written = vectors.withUnsafeBufferPointer { writev(tap.fd, $0.baseAddress, Int32($0.count)) }
            if written < 0 && errno == EINTR { continue }
            return written == total
        }
    }

    package func setReceiving(_ wanted: Bool) {
        guard wanted != registered, let loop else { return }
        if wanted {
            do {
                try loop.add(tap.fd, onReadable)
            } catch {
                logger.error("\(tap.name): cannot watch it: \(error)")
                return
            }
        } else {
            loop.remove(tap.fd)
        }
        registered = wanted
    }

    package func setOffloads(_ offloads: VirtioNetOffloads) {
        do {
            try tap.setOffloads(checksum: offloads.checksum, tso4: offloads.tso4, tso6: offloads.tso6)
            logger.trace("\(tap.name): offloads csum \(offloads.checksum) tso4 \(offloads.tso4) tso6 \(offloads.tso6)")
        } catch {
            // The tap then finishes every packet itself, which is always correct.
            logger.notice("\(error)")
        }
    }
}
