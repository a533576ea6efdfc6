import Foundation
import SwiftletKVM
import Testing
@testable import SwiftletSnapshot

@Suite struct MachineSnapshotTests {
    func vcpu(_ marker: UInt8) -> KVMVCPUSnapshot {
        KVMVCPUSnapshot(cpuid: [CPUIDEntry(function: 1, ebx: UInt32(marker) << 24)], mpState: 0,
                        regs: [marker], sregs: [], xsave: [], xcrs: [], debugRegs: [], lapic: [], msrs: [],
                        events: [], tscKHz: 0)
    }

    var machine: MachineSnapshot {
        MachineSnapshot(
            host: HostRequirements(template: "host", cpuid: [vcpu(0).cpuid, vcpu(1).cpuid]),
            memory: GuestRAMLayout(ranges: [.init(start: 0, size: 1 << 20)]),
            vm: KVMVMSnapshot(picMaster: [1], picSlave: [2], ioapic: [3], pit: [4], clock: 5, clockFlags: 0, realtime: 6),
            vcpus: [vcpu(0), vcpu(1)],
            devices: [SnapshotSection(.device, payload: [7, 7])])
    }

    @Test func roundTripsThroughAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-machine-\(UUID().uuidString)").path
        defer { unlink(path) }
        try machine.write(to: path)
        #expect(try MachineSnapshot.read(path) == machine)
    }

    @Test func refusesHalfAMachine() throws {
        let sections = machine.sections
        let device = try #require(sections.last)
        #expect(throws: SnapshotError.missingSection(tag: SectionTag.vm.rawValue)) {
            try MachineSnapshot(sections.filter { $0.tag != .vm })
        }
        // vCPU 1's section alone (a VCPU payload starts with the vCPU's number): vCPU 0 is missing.
        #expect(throws: SnapshotError.self) { try MachineSnapshot(sections.filter { $0.payload.first != 0 || $0.tag != .vcpu }) }
        #expect(throws: SnapshotError.malformedSection(tag: SectionTag.host.rawValue, detail: "it appears 2 times")) {
            try MachineSnapshot(sections + [sections[0]])
        }
        #expect(throws: SnapshotError.self) { try MachineSnapshot(Array(sections.dropLast(2)) + [device]) }
    }

    /// Past the CRC, the section decoders see what a writer with a bug (or a forger who
    /// fixed the CRC) wrote: every payload cut short is refused, and every flipped byte
    /// is refused or decodes to some value, never a crash or a read past the payload.
    @Test func sectionDecodersSurviveDamagedPayloads() throws {
        let sections = machine.sections
        for (i, section) in sections.enumerated() where section.tag != .device {
            for length in 0..<section.payload.count {
                var damaged = sections
                damaged[i].payload = Array(section.payload.prefix(length))
                #expect(throws: SnapshotError.self, "\(section.tag) cut to \(length)") { try MachineSnapshot(damaged) }
            }
            for offset in section.payload.indices {
                for bit in [0, 7] {
                    var damaged = sections
                    damaged[i].payload[offset] ^= 1 << bit
                    _ = try? MachineSnapshot(damaged)
                }
            }
        }
    }
}
