import Foundation
import Testing

/// The freestanding test guest checks from inside what Swiftlet handed it. It runs in
/// well under a second even where KVM emulates guest ring 0, so most KVM tests use it.
@Suite struct TestGuestTests {
    /// Runs the test guest with `arguments` after `swiftlet <mem>` and the guest image.
    func guest(_ memoryMiB: Int = 64, _ options: [String] = [], _ kernelArguments: [String],
               input: Data = Data(), timeout: Double = 60) throws -> SwiftletRun? {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("test guest \(kernelArguments.joined(separator: " "))", because: "/dev/kvm is absent")
        }
        return try Swiftlet.run(options + ["\(memoryMiB)", TestEnvironment.testGuest] + kernelArguments,
                                input: input, timeout: timeout)
    }

    @Test func checksEverythingSwiftletHandedIt() throws {
        let directory = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // An initrd of odd size and known content: the guest hashes what it finds.
        let initrd = Data((0..<100_003).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let initrdURL = directory.appendingPathComponent("initrd.bin")
        try initrd.write(to: initrdURL)

        guard let run = try guest(96, ["--initrd=\(initrdURL.path)"], [
            "mode=check", "expect_mem_mb=96", "expect_cpus=1",
            "expect_initrd_size=\(initrd.count)", "expect_initrd_sum=\(fnv1a(initrd))", "a=b", "quoted=\"x y\"",
        ]) else { return }

        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout.contains("testguest: start"))
        #expect(!run.stdout.contains("FAIL"), "\(run.stdout)")
        expectGuestChecksPassed(run.stdout)
        // The seed's concat(): arguments joined by single spaces, in order.
        #expect(run.stdout.contains("mode=check expect_mem_mb=96 expect_cpus=1 expect_initrd_size=100003"))
        #expect(run.stdout.contains("a=b quoted=\"x y\""))
        for check in ["e820", "initrd", "rsdp", "madt"] {
            #expect(run.stdout.contains("ok \(check)"), "no 'ok \(check)' in \(run.stdout)")
        }
    }

    @Test func memoryAboveTheHoleIsRAM() throws {
        // 4 GiB of RAM: 3 GiB below the MMIO hole and 1 GiB above 4 GiB, all in e820.
        guard let run = try guest(4096, [], ["mode=check", "expect_mem_mb=4096"]) else { return }
        #expect(run.status == 0, "stderr: \(run.stderr)")
        expectGuestChecksPassed(run.stdout)
    }

    @Test func madtListsEveryVCPU() throws {
        guard let run = try guest(64, ["--cpus", "2"], ["mode=check", "expect_cpus=2"]) else { return }
        #expect(run.status == 0, "stderr: \(run.stderr)")
        expectGuestChecksPassed(run.stdout)
    }

    @Test(arguments: ["acpi", "i8042"])
    func resetStartsTheGuestAgain(via: String) throws {
        guard let run = try guest(64, [], ["mode=reset-\(via)"]) else { return }
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout.components(separatedBy: "testguest: start").count - 1 == 2, "\(run.stdout)")
        #expect(run.stdout.contains("testguest: resetting via \(via)"))
        #expect(run.stdout.contains("testguest: second start, powering off"))
    }

    @Test func serialInputReachesTheGuest() throws {
        guard let run = try guest(64, [], ["mode=echo"], input: Data("hello from the host\u{04}".utf8)) else { return }
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout.contains("hello from the host"))
        #expect(run.stdout.contains("testguest: echo done"))
    }

    @Test func int3AndFwaitComplete() throws {
        guard let run = try guest(64, [], ["mode=int3"]) else { return }
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout.contains("ok int3"), "\(run.stdout)")
        #expect(run.stdout.contains("ok fwait"), "\(run.stdout)")
    }

    @Test func conservativeTemplateHidesWhatPVMCannotRun() throws {
        guard let run = try guest(64, ["--cpu-template", "conservative"], ["mode=cpuid"]) else { return }
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let leaf1 = try #require(hexField(run.stdout, "cpuid 1 ecx="))
        let leaf7 = try #require(hexField(run.stdout, "cpuid 7 ebx="))
        #expect(leaf1 & (1 << 13) == 0, "CMPXCHG16B visible")
        #expect(leaf1 & (1 << 31) != 0, "hypervisor bit missing")
        if TestEnvironment.isPVM {
            // PVM answers CPUID from the hardware for the bits KVM does not list, so
            // the template tells Linux on its command line instead.
            let check = try #require(try guest(64, ["--cpu-template", "conservative"], ["mode=check"]))
            #expect(check.stdout.contains("cmdline: noxsave clearcpuid=137,151,288,297,308,580 mode=check"), "\(check.stdout)")
        } else {
            #expect(leaf1 & (1 << 23) == 0, "POPCNT visible")
            #expect(leaf1 & (1 << 26) == 0, "XSAVE visible")
            #expect(leaf7 & (1 << 0) == 0, "FSGSBASE visible")
            #expect(leaf7 & (1 << 20) == 0, "SMAP visible")
        }
        #expect(run.stdout.contains("apicid 0"))
        #expect(run.stdout.contains("KVMKVMKVM"), "KVM's hypervisor leaf should be visible")
    }

    @Test func hostTemplateLeavesTheCommandLineAlone() throws {
        guard let run = try guest(64, ["--cpu-template", "host"], ["mode=check"]) else { return }
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout.contains("cmdline: mode=check\n"), "\(run.stdout)")
    }

    @Test func secondVCPUReportsItsOwnAPICID() throws {
        // vCPU 1 waits for INIT/SIPI; the boot CPU's CPUID must still say APIC ID 0 and
        // count two logical processors.
        guard let run = try guest(64, ["--cpus", "2"], ["mode=cpuid"]) else { return }
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout.contains("apicid 0"))
        // One package of two cores: the x2APIC topology leaf's core level counts both
        // and shifts one APIC ID bit (without it Linux saw two packages).
        #expect(run.stdout.contains("cpuid 0xb.1 eax=00000001 ebx=00000002 ecx=00000201 edx=00000000"), "\(run.stdout)")
        #expect(run.stdout.contains("cpuid 0x80000008 ecx=00001001"), "\(run.stdout)")
    }

    /// KVM's paravirtual features that are hypercalls stay hidden under the conservative
    /// template: PVM's emulator never completes one (Linux hung sending its first PV IPI).
    @Test func conservativeTemplateHidesKVMHypercalls() throws {
        guard let run = try guest(64, ["--cpu-template", "conservative"], ["mode=cpuid"]) else { return }
        let features = try #require(hexField(run.stdout, "cpuid 0x40000001 eax="))
        #expect(features & (1 << 3) != 0, "kvmclock (CLOCKSOURCE2) should stay")
        for bit in [7, 11, 13] { #expect(features & (1 << bit) == 0, "KVM feature bit \(bit) visible") }
    }

    @Test func tripleFaultEndsTheRunWithOneLine() throws {
        guard let run = try guest(64, [], ["mode=triple-fault"]) else { return }
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1, "\(run.stderr)")
        #expect(run.stderr.contains("triple-faulted at RIP 0x"), "\(run.stderr)")
    }

    @Test func anUnemulatableInstructionEndsTheRunWithItsBytes() throws {
        guard TestEnvironment.isPVM else {
            try TestEnvironment.skipped("emulation failure", because: "this KVM is not PVM: CMPXCHG16B runs natively")
        }
        guard let run = try guest(64, [], ["mode=bad-insn"]) else { return }
        #expect(run.status == 1)
        #expect(run.stderrLines.count == 1, "\(run.stderr)")
        #expect(run.stderr.contains("cannot emulate the instruction at RIP 0x"), "\(run.stderr)")
        #expect(run.stderr.contains("0f c7"), "CMPXCHG16B's opcode bytes should be shown: \(run.stderr)")
    }

    @Test func verboseSaysWhichTemplateAndTracesUnclaimedPorts() throws {
        guard let run = try guest(64, ["--verbose"], ["mode=check"]) else { return }
        #expect(run.status == 0)
        if TestEnvironment.isPVM {
            #expect(run.stderr.contains("PVM"), "\(run.stderr)")
            #expect(run.stderr.contains("conservative"), "\(run.stderr)")
        }
        #expect(run.stderr.contains("8250"), "\(run.stderr)")
    }
}

/// FNV-1a, 32-bit, as the test guest computes it over the initrd.
func fnv1a(_ data: Data) -> String {
    var hash: UInt32 = 0x811C_9DC5
    for byte in data { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
    return String(hash, radix: 16)
}

/// The hexadecimal number after `prefix` in `text`.
func hexField(_ text: String, _ prefix: String) -> UInt64? {
    guard let range = text.range(of: prefix) else { return nil }
    let digits = text[range.upperBound...].prefix { $0.isHexDigit }
    return UInt64(digits, radix: 16)
}
