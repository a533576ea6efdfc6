import Testing
import SwiftletKVM
@testable import SwiftletSnapshot

@Suite struct HostRequirementsTests {
    let host: [CPUIDEntry] = [
        CPUIDEntry(function: 0, eax: 0xD),
        CPUIDEntry(function: 1, ecx: 0x8000_0201, edx: 0x0781_FBFF),
        CPUIDEntry(function: 7, index: 0, flags: 1, ebx: 0x0000_0209),
        CPUIDEntry(function: 0x8000_0000, eax: 0x8000_0008),
        CPUIDEntry(function: 0x8000_0001, ecx: 0x21, edx: 0x2C10_0800),
        CPUIDEntry(function: 0x4000_0001, eax: 0x0100_007B),
    ]

    @Test func aGuestShapedFromThisHostNeedsNothingMore() {
        var guest = host
        // Topology and OSXSAVE differ from KVM's list in a real guest's CPUID; neither counts.
        guest[1].ebx = 0x0102_0800
        guest[1].ecx |= 1 << 27
        guest[2].ebx &= ~UInt32(1 << 3)
        #expect(HostRequirements.missing(saved: guest, supported: host).isEmpty)
    }

    @Test func namesEachFeatureTheHostLacks() {
        var guest = host
        guest[1].ecx |= 1 << 13            // CMPXCHG16B
        guest[2].ebx |= 1 << 5 | 1 << 16   // AVX2, AVX512F
        let missing = HostRequirements.missing(saved: guest, supported: host)
        #expect(missing.count == 2)
        #expect(missing.contains { $0.hasPrefix("CPUID 0x1.0 ecx") && $0.contains("13") })
        #expect(missing.contains { $0.hasPrefix("CPUID 0x7.0 ebx") && $0.contains("5,16") })
    }

    @Test func notesLeavesAndLimitsTheHostLacks() {
        var guest = host
        guest[0].eax = 0x1F
        guest.append(CPUIDEntry(function: 7, index: 1, flags: 1, eax: 1 << 4))
        let missing = HostRequirements.missing(saved: guest, supported: host)
        #expect(missing.contains { $0.contains("0x7.1 eax") && $0.contains("absent") })
        #expect(missing.contains { $0.contains("highest leaf 0x1f") })
    }

    @Test func refusesAnotherTemplateOrMissingFeatures() throws {
        var guest = host
        let good = HostRequirements(template: "conservative", cpuid: [host, guest])
        try good.check(template: "conservative", supported: host)
        #expect(throws: SnapshotError.self) { try good.check(template: "host", supported: host) }
        guest[1].ecx |= 1 << 13
        let bad = HostRequirements(template: "conservative", cpuid: [host, guest])
        do {
            try bad.check(template: "conservative", supported: host)
            Issue.record("a missing CMPXCHG16B was not noticed")
        } catch {
            #expect(error.description.contains("vCPU 1"))
        }
    }

    @Test func roundTripsThroughItsSection() throws {
        let requirements = HostRequirements(template: "host", cpuid: [host, Array(host.prefix(2))])
        #expect(try HostRequirements(requirements.section) == requirements)
        var section = requirements.section
        section.payload.removeLast()
        #expect(throws: SnapshotError.self) { try HostRequirements(section) }
    }
}
