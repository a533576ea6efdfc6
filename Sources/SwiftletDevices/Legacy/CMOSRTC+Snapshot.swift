/// The CMOS: its 128 bytes of NVRAM and the selected index. The time registers are
/// computed from the host clock at each read, so they need nothing.
public struct CMOSRTCState: Sendable, Equatable {
    public var index: UInt8
    public var ram: [UInt8]

    public init(index: UInt8, ram: [UInt8]) {
        self.index = index
        self.ram = ram
    }
}

extension CMOSRTC {
    public func saveState() -> CMOSRTCState {
        state.withLock { CMOSRTCState(index: UInt8($0.index), ram: $0.ram) }
    }

    /// Takes back a snapshot's NVRAM; a state of another size is refused (returns false).
    @discardableResult
    public func restoreState(_ saved: CMOSRTCState) -> Bool {
        guard saved.ram.count == Self.ramSize else { return false }
        state.withLock { s in
            s.index = Int(saved.index & 0x7F)
            s.ram = saved.ram
            s.lastUpdateSeen = clock()
        }
        return true
    }
}
