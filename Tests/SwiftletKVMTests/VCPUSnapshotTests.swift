import Foundation
import SwiftletMemory
import Testing
@testable import SwiftletKVM

/// A VM with RAM, the in-kernel devices and one vCPU set up as GuestBoot's makeVCPUs
/// sets up the boot CPU: template CPUID, boot MSRs, FPU, LAPIC lines, 64-bit entry.
struct TestMachine {
    let system: KVMSystem
    let vm: VirtualMachine
    let memory: GuestMemory
    let vcpu: VirtualCPU

    static var hasKVM: Bool { FileManager.default.fileExists(atPath: "/dev/kvm") }

    init(configure: Bool) throws {
        system = try KVMSystem()
        vm = try system.createVM()
        memory = try GuestMemory(ranges: [(0, 2 << 20)])
        try vm.map(memory)
        try vm.createPlatformDevices()
        vcpu = try vm.createVCPU(id: 0)
        guard configure else { return }
        let template = CPUTemplate.defaultTemplate(isPVM: KVMSystem.isPVM)
        try vcpu.setCPUID(template.apply(to: try system.supportedCPUID(), apicID: 0, cpuCount: 1))
        try vcpu.setMSRs(BootMSRs.values(supported: try system.msrIndexList()))
        try vcpu.resetFPU()
        try vcpu.configureLocalAPICLines()
        let code = Segment(base: 0, limit: 0xfffff, selector: 0x10, type: 11, present: true, dpl: 0, db: false, s: true, l: true, g: true)
        let data = Segment(base: 0, limit: 0xfffff, selector: 0x18, type: 3, present: true, dpl: 0, db: true, s: true, l: false, g: true)
        let task = Segment(base: 0, limit: 0x67, selector: 0x20, type: 11, present: true, dpl: 0, db: false, s: false, l: false, g: false)
        try vcpu.setEntryState(EntryState(code: code, data: data, task: task, gdtBase: 0x500, gdtLimit: 0x27,
                                          idtBase: 0x600, idtLimit: 0xfff, cr0: 0x8005_0033, cr3: 0x9000,
                                          cr4: 0x20, efer: 0x500))
        var registers = Registers()
        registers.rax = 0x1111_2222_3333_4444
        registers.r15 = 0xdead_beef
        registers.rsi = 0x7000
        registers.rsp = 0x8000
        registers.rip = 0x10_0000
        registers.rflags = 0x202
        try vcpu.setRegisters(registers)
        // Values no reset state has, to see them come back.
        try vcpu.setMSRs([(0xC000_0082, 0xffff_ffff_8100_0000), (0xC000_0102, 0xffff_8880_1234_0000)]
            .filter { msr in (try? system.msrIndexList().contains(msr.0)) ?? false })
    }
}

@Suite(.serialized) struct VCPUSnapshotTests {
    /// MSRs whose value moves on its own between two reads.
    static let clocks: Set<UInt32> = [0x10 /* TSC */, 0x3B /* TSC_ADJUST */]

    @Test(.enabled(if: TestMachine.hasKVM, "/dev/kvm is absent"))
    func aVCPUComesBackAsItWasSaved() throws {
        let source = try TestMachine(configure: true)
        let msrs = source.vcpu.readableMSRs(of: try source.system.msrIndexList())
        #expect(msrs.contains(0xC000_0082), "LSTAR should be saveable")
        let saved = try source.vcpu.captureState(msrIndices: msrs, xsaveSize: source.system.xsaveSize)
        #expect(saved.registers?.rax == 0x1111_2222_3333_4444)
        #expect(saved.registers?.rip == 0x10_0000)
        #expect(saved.controlState?.efer == 0x500 || saved.controlState?.efer == 0x500 | 0x400)
        #expect(saved.msrs.first { $0.index == 0xC000_0082 }?.value == 0xffff_ffff_8100_0000)
        #expect(!saved.cpuid.isEmpty)

        let target = try TestMachine(configure: false)
        try target.vcpu.restoreState(saved)
        let restored = try target.vcpu.captureState(msrIndices: msrs, xsaveSize: target.system.xsaveSize)
        #expect(restored.cpuid == saved.cpuid)
        #expect(restored.mpState == saved.mpState)
        #expect(restored.regs == saved.regs)
        #expect(restored.sregs == saved.sregs)
        #expect(restored.xsave == saved.xsave)
        #expect(restored.xcrs == saved.xcrs)
        #expect(restored.debugRegs == saved.debugRegs)
        #expect(restored.lapic == saved.lapic)
        #expect(restored.events == saved.events)
        #expect(restored.tscKHz == saved.tscKHz)
        let steady = { (s: KVMVCPUSnapshot) in s.msrs.filter { !Self.clocks.contains($0.index) } }
        for (a, b) in zip(steady(restored), steady(saved)) where a != b {
            Issue.record("MSR 0x\(String(a.index, radix: 16)): restored 0x\(String(a.value, radix: 16)), saved 0x\(String(b.value, radix: 16))")
        }
        #expect(steady(restored).count == steady(saved).count)
    }

    @Test(.enabled(if: TestMachine.hasKVM, "/dev/kvm is absent"))
    func aPartialMSRWriteIsAnError() throws {
        let machine = try TestMachine(configure: true)
        // 0xC001_FFFF is no MSR on any x86.
        #expect(throws: KVMError.self) { try machine.vcpu.setMSRs([(0xC000_0082, 0), (0xC001_FFFF, 1)]) }
        #expect(throws: KVMError.self) { try machine.vcpu.readMSRs([0xC000_0082, 0xC001_FFFF]) }
    }

    @Test(.enabled(if: TestMachine.hasKVM, "/dev/kvm is absent"))
    func savedStateOfTheWrongShapeIsRefused() throws {
        let machine = try TestMachine(configure: true)
        var saved = try machine.vcpu.captureState(msrIndices: [], xsaveSize: machine.system.xsaveSize)
        saved.lapic.removeLast()
        let target = try TestMachine(configure: false)
        #expect(throws: KVMError.self) { try target.vcpu.restoreState(saved) }
    }
}

/// A vCPU that has run, saved after a port read and restored into a new VM with a copy of
/// its RAM, goes on to write what it read: the state is whole enough to continue, and the
/// read's value survives because `completePendingIO` ran before the capture.
@Suite(.serialized) struct RunningVCPUSnapshotTests {
    /// 64-bit code at 1 MiB: mov eax, 0x1234; out 0x80, al; in al, 0x60; out 0x81, al; jmp $.
    static let code: [UInt8] = [0xB8, 0x34, 0x12, 0x00, 0x00, 0xE6, 0x80, 0xE4, 0x60, 0xE6, 0x81, 0xEB, 0xFE]

    /// Identity-maps the first 2 MiB with one large page (PML4 0x9000, PDPT 0xA000, PD
    /// 0xB000), lays out the GDT TestMachine's segments name, and places the code.
    static func load(_ machine: TestMachine) throws {
        let memory = machine.memory
        try memory.write(UInt64(0xA003), at: GuestAddress(0x9000))
        try memory.write(UInt64(0xB003), at: GuestAddress(0xA000))
        try memory.write(UInt64(0x83), at: GuestAddress(0xB000))
        try memory.write(UInt64(0x00AF_9B00_0000_FFFF), at: GuestAddress(0x510))
        try memory.write(UInt64(0x00CF_9300_0000_FFFF), at: GuestAddress(0x518))
        try memory.write(UInt64(0x0000_8B00_0000_0067), at: GuestAddress(0x520))
        try memory.write(bytes: code, at: GuestAddress(0x10_0000))
    }

    /// Runs until a port access, skipping the interruptions a signal may cause; a write
    /// gives its value.
    static func nextPortAccess(_ vcpu: VirtualCPU) throws -> (port: UInt16, value: UInt64?)? {
        for _ in 0..<100 {
            switch try vcpu.runOnce() {
            case .interrupted: continue
            case .portOut(let port, let size, _): return (port, vcpu.portOutValue(at: 0, size: size))
            case .portIn(let port, _, _): return (port, nil)
            default: return nil
            }
        }
        return nil
    }

    @Test(.enabled(if: TestMachine.hasKVM, "/dev/kvm is absent"))
    func aRestoredVCPUContinuesWhereItStopped() throws {
        let source = try TestMachine(configure: true)
        try Self.load(source)
        let first = try #require(try Self.nextPortAccess(source.vcpu))
        #expect(first.port == 0x80 && first.value == 0x34)
        let read = try #require(try Self.nextPortAccess(source.vcpu))
        #expect(read.port == 0x60 && read.value == nil)
        source.vcpu.completePortIn(at: 0, size: 1, value: 0x77)
        try source.vcpu.completePendingIO()
        let msrs = source.vcpu.readableMSRs(of: try source.system.msrIndexList())
        let saved = try source.vcpu.captureState(msrIndices: msrs, xsaveSize: source.system.xsaveSize)
        let savedVM = try source.vm.captureState()
        #expect(saved.registers?.rip == 0x10_0009)
        #expect(saved.registers.map { $0.rax & 0xFF } == 0x77)

        let target = try TestMachine(configure: false)
        let ram = try source.memory.readBytes(at: GuestAddress(0), count: 2 << 20)
        try target.memory.write(bytes: ram, at: GuestAddress(0))
        try target.vm.restoreState(savedVM)
        try target.vcpu.restoreState(saved)
        let second = try #require(try Self.nextPortAccess(target.vcpu))
        #expect(second.port == 0x81 && second.value == 0x77)
    }
}

/// The second vCPU of a two-vCPU VM waits for INIT/SIPI; saved and restored, it still waits,
/// with its own APIC ID.
@Suite(.serialized) struct ApplicationProcessorSnapshotTests {
    @Test(.enabled(if: TestMachine.hasKVM, "/dev/kvm is absent"))
    func aWaitingAPStaysWaiting() throws {
        let source = try TestMachine(configure: true)
        let template = CPUTemplate.defaultTemplate(isPVM: KVMSystem.isPVM)
        let cpuid = template.apply(to: try source.system.supportedCPUID(), apicID: 1, cpuCount: 2)
        let ap = try source.vm.createVCPU(id: 1)
        try ap.setCPUID(cpuid)
        try ap.configureLocalAPICLines()
        let msrs = ap.readableMSRs(of: try source.system.msrIndexList())
        let saved = try ap.captureState(msrIndices: msrs, xsaveSize: source.system.xsaveSize, cpuid: cpuid)
        let bsp = try source.vcpu.captureState(msrIndices: msrs, xsaveSize: source.system.xsaveSize)
        #expect(saved.mpState != KVMVCPUSnapshot.runnable, "an AP starts waiting for INIT/SIPI")
        // The LAPIC ID register (offset 0x20) holds the APIC ID in its top byte.
        #expect(saved.lapic[0x23] == 1 && bsp.lapic[0x23] == 0)

        let target = try TestMachine(configure: false)
        let targetAP = try target.vm.createVCPU(id: 1)
        try target.vcpu.restoreState(bsp)
        try targetAP.restoreState(saved)
        let restored = try targetAP.captureState(msrIndices: msrs, xsaveSize: target.system.xsaveSize, cpuid: cpuid)
        #expect(restored.mpState == saved.mpState)
        #expect(restored.lapic == saved.lapic)
        #expect(restored.regs == saved.regs && restored.sregs == saved.sregs)
    }
}

@Suite(.serialized) struct TSCFrequencySnapshotTests {
    /// A snapshot from a host with a slower TSC: KVM either scales to the saved rate or the
    /// restore fails with a line about the TSC (without scaling, as on PVM), never runs the
    /// guest's clock at the wrong rate silently.
    @Test(.enabled(if: TestMachine.hasKVM, "/dev/kvm is absent"))
    func aTSCRateTheHostCannotGiveFailsTheRestore() throws {
        let source = try TestMachine(configure: true)
        var saved = try source.vcpu.captureState(msrIndices: [], xsaveSize: source.system.xsaveSize)
        try #require(saved.tscKHz > 200_000)
        saved.tscKHz -= 100_000
        let target = try TestMachine(configure: false)
        do {
            try target.vcpu.restoreState(saved)
            let restored = try target.vcpu.captureState(msrIndices: [], xsaveSize: target.system.xsaveSize)
            #expect(restored.tscKHz == saved.tscKHz)
        } catch {
            #expect(error.description.contains("TSC"))
        }
    }
}
