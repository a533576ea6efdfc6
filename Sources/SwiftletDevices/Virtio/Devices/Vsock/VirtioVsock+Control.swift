/// Packets without payload for the guest (answers, credit, RST), queued in order and
/// delivered ahead of data by the receive path.
extension VirtioVsock {
    func queueReset(_ key: VsockConnectionKey) {
        resetsSent += 1
        queueControl(key, .reset)
    }

    /// Queues a packet without payload. Past the limit (a guest that floods us and gives
    /// no receive buffers) it is dropped, and a connection it was for goes with it.
    func queueControl(_ key: VsockConnectionKey, _ op: Op, flags: UInt32 = 0) {
        if controlHead > 0 && controlHead >= control.count / 2 {
            control.removeFirst(controlHead)
            controlHead = 0
        }
        guard control.count - controlHead < Self.controlLimit else {
            droppedPackets += 1
            if op != .reset, let connection = connections[key] { remove(connection) }
            return
        }
        control.append((key, op, flags))
    }
}
