/// The PCI Express memory-mapped configuration table ("MCFG", PCI Firmware Spec 3.2 §4.1.2),
/// ready for when the machine grows an ECAM window. Pass it in `ACPITables.extraTables`.
public struct MCFG: Sendable, Equatable {
    public struct Allocation: Sendable, Equatable {
        public var baseAddress: UInt64
        public var segment: UInt16
        public var startBus: UInt8
        public var endBus: UInt8

        public init(baseAddress: UInt64, segment: UInt16 = 0, startBus: UInt8 = 0, endBus: UInt8) {
            self.baseAddress = baseAddress
            self.segment = segment
            self.startBus = startBus
            self.endBus = endBus
        }
    }

    public var allocations: [Allocation]

    public init(allocations: [Allocation]) {
        self.allocations = allocations
    }

    public func table() -> ACPITable {
        var body = [UInt8](repeating: 0, count: 8)  // reserved
        for allocation in allocations {
            body.append(le: allocation.baseAddress)
            body.append(le: allocation.segment)
            body += [allocation.startBus, allocation.endBus, 0, 0, 0, 0]
        }
        return ACPITable(signature: "MCFG", revision: 1, body: body)
    }
}
