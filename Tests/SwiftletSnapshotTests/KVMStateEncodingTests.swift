import Foundation
import SwiftletKVM
import SwiftletMemory
import Testing
@testable import SwiftletSnapshot

@Suite struct KVMStateEncodingTests {
    let vcpu = KVMVCPUSnapshot(
        cpuid: [CPUIDEntry(function: 1, ecx: 0x8000_0001), CPUIDEntry(function: 7, index: 0, flags: 1, ebx: 9)],
        mpState: 0, regs: Array(repeating: 1, count: 144), sregs: Array(repeating: 2, count: 312),
        xsave: Array(repeating: 3, count: 4096), xcrs: [], debugRegs: Array(repeating: 5, count: 128),
        lapic: Array(repeating: 6, count: 1024), msrs: [MSRValue(index: 0xC000_0082, value: 0xffff_ffff_8100_0000)],
        events: Array(repeating: 7, count: 64), tscKHz: 2_596_138)
    let vm = KVMVMSnapshot(picMaster: Array(repeating: 1, count: 520), picSlave: Array(repeating: 2, count: 520),
                           ioapic: Array(repeating: 3, count: 520), pit: Array(repeating: 4, count: 112),
                           clock: 10_000_000_000, clockFlags: 14, realtime: 1_765_000_000_000_000_000)

    @Test func vcpuAndVMStateRoundTripThroughTheFormat() throws {
        let bytes = SnapshotFormat.encode([vcpu.section(id: 3), vm.section])
        let sections = try SnapshotFormat.decode(bytes, known: [.vcpu, .vm])
        let decoded = try KVMVCPUSnapshot.decode(sections[0])
        #expect(decoded.id == 3)
        #expect(decoded.state == vcpu)
        #expect(try KVMVMSnapshot(sections[1]) == vm)
    }

    @Test func aShortVCPUSectionIsMalformed() {
        var section = vcpu.section(id: 0)
        section.payload.removeLast(5)
        #expect(throws: SnapshotError.self) { try KVMVCPUSnapshot.decode(section) }
        var vmSection = vm.section
        vmSection.payload.append(0)
        #expect(throws: SnapshotError.self) { try KVMVMSnapshot(vmSection) }
    }

    /// A vCPU and VM saved to a state file on this host, read back and restored into a new
    /// VM, come back as they were; this host can give what the snapshot needs.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm"), "/dev/kvm is absent"))
    func aRealVCPUSurvivesTheStateFile() throws {
        let system = try KVMSystem()
        let template = CPUTemplate.defaultTemplate(isPVM: KVMSystem.isPVM)
        let supported = try system.supportedCPUID()
        func machine() throws -> (VirtualMachine, VirtualCPU, GuestMemory) {
            let vm = try system.createVM()
            let memory = try GuestMemory(ranges: [(0, 1 << 20)])
            try vm.map(memory)
            try vm.createPlatformDevices()
            return (vm, try vm.createVCPU(id: 0), memory)
        }
        let (vm, vcpu, memory) = try machine()
        let configured = template.apply(to: supported, apicID: 0, cpuCount: 1)
        try vcpu.setCPUID(configured)
        try vcpu.configureLocalAPICLines()
        var registers = Registers()
        registers.rbx = 0x5a5a_5a5a
        registers.rip = 0xfff0
        try vcpu.setRegisters(registers)
        let msrs = vcpu.readableMSRs(of: try system.msrIndexList())
        let savedVCPU = try vcpu.captureState(msrIndices: msrs, xsaveSize: system.xsaveSize, cpuid: configured)
        let savedVM = try vm.captureState()
        let host = HostRequirements(template: template.rawValue, cpuid: [savedVCPU.cpuid])
        _ = memory

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-kvm-\(UUID().uuidString)").path
        defer { unlink(path) }
        try SnapshotFile.write([host.section, savedVM.section, savedVCPU.section(id: 0)], to: path)
        let sections = try SnapshotFile.read(path, known: [.host, .vm, .vcpu])
        let readHost = try HostRequirements(sections[0])
        try readHost.check(template: template.rawValue, supported: supported)

        let (vm2, vcpu2, memory2) = try machine()
        try vm2.restoreState(try KVMVMSnapshot(sections[1]))
        try vcpu2.restoreState(try KVMVCPUSnapshot.decode(sections[2]).state)
        _ = memory2
        let again = try vcpu2.captureState(msrIndices: msrs, xsaveSize: system.xsaveSize, cpuid: configured)
        #expect(again.registers?.rbx == 0x5a5a_5a5a)
        #expect(again.regs == savedVCPU.regs && again.sregs == savedVCPU.sregs && again.lapic == savedVCPU.lapic)
        #expect(try vm2.captureState().ioapic == savedVM.ioapic)
    }
}
