import Testing
@testable import SwiftletKVM

@Suite struct CPUTemplateTests {
    /// A host that has everything the conservative template hides.
    let host: [CPUIDEntry] = [
        CPUIDEntry(function: 0, eax: 0x1F),
        CPUIDEntry(function: 1, ebx: 0x0A00_0800, ecx: 0xFFFF_FFFF, edx: 0xFFFF_FFFF),
        CPUIDEntry(function: 7, index: 0, flags: 1, ebx: 0xFFFF_FFFF, ecx: 0xFFFF_FFFF),
        CPUIDEntry(function: 7, index: 1, flags: 1, eax: 0xFFFF_FFFF),
        CPUIDEntry(function: 0xB, index: 0, flags: 1), CPUIDEntry(function: 0xB, index: 1, flags: 1),
        CPUIDEntry(function: 0xD, index: 0, flags: 1, eax: 7), CPUIDEntry(function: 0xD, index: 1, flags: 1, eax: 1),
        CPUIDEntry(function: 0x4000_0000, eax: 0x4000_0001, ebx: 0x4B4D_564B),
        CPUIDEntry(function: 0x4000_0001, eax: 0x01FF_FFFF),
    ]

    func leaf(_ entries: [CPUIDEntry], _ function: UInt32, _ index: UInt32 = 0) throws -> CPUIDEntry {
        try #require(entries.first { $0.function == function && $0.index == index })
    }

    @Test func conservativeHidesWhatPVMCannotEmulate() throws {
        let guest = CPUTemplate.conservative.apply(to: host, apicID: 0, cpuCount: 1)
        let one = try leaf(guest, 1), seven = try leaf(guest, 7)
        for bit in [9, 13, 23, 26, 27, 28] { #expect(one.ecx & (1 << bit) == 0, "leaf 1 ECX bit \(bit)") }
        for bit in [0, 5, 16, 20] { #expect(seven.ebx & (1 << bit) == 0, "leaf 7 EBX bit \(bit)") }
        #expect(!guest.contains { $0.function == 0xD }, "XSAVE leaf 0xD should be gone")
        #expect(one.ecx & (1 << 31) != 0, "hypervisor bit")
        #expect(one.ecx & (1 << 0) != 0, "SSE3 should stay")
        let kvm = try leaf(guest, 0x4000_0001)
        for bit in [7, 11, 13] { #expect(kvm.eax & (1 << bit) == 0, "KVM feature bit \(bit) is a hypercall") }
        for bit in [0, 3, 5, 6] { #expect(kvm.eax & (1 << bit) != 0, "KVM feature bit \(bit) is an MSR and should stay") }
    }

    /// Linux's feature numbers (word * 32 + bit) that only its command line can hide on
    /// PVM: SSSE3, POPCNT, FSGSBASE, SMAP, and the byte-wise string ops ERMS and FSRM.
    @Test func onPVMLinuxIsToldWhatCPUIDCannotHide() throws {
        let arguments = CPUTemplate.conservative.kernelArguments(onPVM: true)
        #expect(arguments.contains("noxsave"))
        let cleared = try #require(arguments.first { $0.hasPrefix("clearcpuid=") })
        let numbers = Set(cleared.dropFirst("clearcpuid=".count).split(separator: ",").compactMap { Int($0) })
        #expect(numbers == [4 * 32 + 9, 4 * 32 + 23, 9 * 32 + 0, 9 * 32 + 9, 9 * 32 + 20, 18 * 32 + 4])
        #expect(CPUTemplate.conservative.kernelArguments(onPVM: false).isEmpty)
        #expect(CPUTemplate.host.kernelArguments(onPVM: true).isEmpty)
    }

    @Test func hostKeepsEverything() throws {
        let guest = CPUTemplate.host.apply(to: host, apicID: 0, cpuCount: 1)
        #expect(try leaf(guest, 1).ecx == 0xFFFF_FFFF)
        #expect(try leaf(guest, 7).ebx == 0xFFFF_FFFF)
        #expect(guest.contains { $0.function == 0xD })
        #expect(try leaf(guest, 0x4000_0001).eax == 0x01FF_FFFF)
    }

    @Test func eachVCPUKnowsItsAPICIDAndSiblings() throws {
        let guest = CPUTemplate.host.apply(to: host, apicID: 3, cpuCount: 4)
        let one = try leaf(guest, 1)
        #expect(one.ebx >> 24 == 3)
        #expect((one.ebx >> 16) & 0xFF == 4)
        #expect(one.edx & (1 << 28) != 0, "HTT with several logical CPUs")
        let smt = try leaf(guest, 0xB, 0), core = try leaf(guest, 0xB, 1)
        #expect(smt.edx == 3 && core.edx == 3)
        #expect(core.ebx == 4 && core.eax == 2)
        #expect((core.ecx >> 8) & 0xFF == 2)
        let single = CPUTemplate.host.apply(to: host, apicID: 0, cpuCount: 1)
        #expect(try leaf(single, 1).edx & (1 << 28) == 0)
    }

    /// KVM on PVM lists leaf 0xB with subleaf 0 only; the core level must still be there,
    /// or Linux puts every vCPU in a package of its own.
    @Test func topologyLeafIsWrittenWhole() throws {
        let sparse = host.filter { !($0.function == 0xB && $0.index == 1) }
        let guest = CPUTemplate.conservative.apply(to: sparse, apicID: 1, cpuCount: 2)
        let core = try leaf(guest, 0xB, 1), end = try leaf(guest, 0xB, 2)
        #expect(core.eax == 1 && core.ebx == 2 && (core.ecx >> 8) & 0xFF == 2 && core.edx == 1)
        #expect((end.ecx >> 8) & 0xFF == 0, "subleaf 2 ends the levels")
        #expect(guest.filter { $0.function == 0xB }.count == 3)
        #expect(guest.filter { $0.function == 0xB && !$0.hasSubleaves }.isEmpty)
        let none = CPUTemplate.host.apply(to: host.filter { $0.function != 0xB }, apicID: 0, cpuCount: 2)
        #expect(!none
            .contains { $0.function == 0xB }, "no 0xB where KVM lists none")
    }

    @Test func defaultIsConservativeOnPVM() {
        #expect(CPUTemplate.defaultTemplate(isPVM: true) == .conservative)
        #expect(CPUTemplate.defaultTemplate(isPVM: false) == .host)
    }

    @Test func bootMSRsAreOnlyThoseKVMLists() {
        let values = BootMSRs.values(supported: [0x174, 0x10, 0x10A])
        #expect(values.map(\.index) == [0x174, 0x10])
    }
}
