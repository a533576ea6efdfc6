import Foundation
import SwiftletMemory
import Testing
@testable import SwiftletBoot

@Suite struct SetupHeaderTests {
    @Test func parsesACraftedHeader() throws {
        let image = TestImages.bzImage(payload: [1, 2, 3, 4], setupSectors: 3, prefAddress: 0x100_0000, initSize: 0x123000)
        let header = try SetupHeader(bzImage: image)
        #expect(header.setupSectors == 3)
        #expect(header.protectedModeOffset == 4 * 512)
        #expect(header.bootFlag == 0xAA55)
        #expect(header.version == 0x020F)
        #expect(header.loadFlags == 0x01)
        #expect(header.code32Start == 0x10_0000)
        #expect(header.initrdAddressMax == 0x7FFF_FFFF)
        #expect(header.kernelAlignment == 0x20_0000)
        #expect(header.relocatableKernel)
        #expect(header.xloadFlags == 0x03)
        #expect(header.commandLineSize == 2048)
        #expect(header.payloadOffset == 0x200)
        #expect(header.payloadLength == 4)
        #expect(header.preferredAddress == 0x100_0000)
        #expect(header.initSize == 0x123000)
        // 0x1f1 up to 0x202 + the jump's operand (0x6a), not a byte further.
        #expect(header.rawBytes.count == 0x26C - 0x1F1)
        #expect(Array(header.rawBytes[(0x202 - 0x1F1)..<(0x206 - 0x1F1)]) == Array("HdrS".utf8))
    }

    @Test func zeroSetupSectorsMeansFour() throws {
        let header = try SetupHeader(bzImage: TestImages.bzImage(payload: [0], setupSectors: 0))
        #expect(header.protectedModeOffset == 5 * 512)
    }

    @Test func refusesWhatCannotBeEnteredIn64BitMode() {
        #expect(throws: KernelImageError.badBootFlag(0x1234)) {
            try SetupHeader(bzImage: TestImages.bzImage(payload: [0], bootFlag: 0x1234))
        }
        #expect(throws: KernelImageError.protocolTooOld(0x020B)) {
            try SetupHeader(bzImage: TestImages.bzImage(payload: [0], version: 0x020B))
        }
        #expect(throws: KernelImageError.no64BitEntry) {
            try SetupHeader(bzImage: TestImages.bzImage(payload: [0], xloadflags: 0x02))
        }
        #expect(KernelImageError.protocolTooOld(0x0206).description.contains("2.06"))
        // An old kernel's header is shorter, but its age is what matters.
        var old = TestImages.bzImage(payload: [0], version: 0x0204)
        old[0x201] = 0x20
        #expect(throws: KernelImageError.protocolTooOld(0x0204)) { try SetupHeader(bzImage: old) }
    }

    @Test func refusesTruncatedAndForeignFiles() {
        let image = TestImages.bzImage(payload: [0])
        #expect(throws: KernelImageError.truncatedSetupHeader) { try SetupHeader(bzImage: Array(image.prefix(0x240))) }
        #expect(throws: KernelImageError.notAKernel) { try SetupHeader(bzImage: Array("hello, world\n".utf8)) }
        #expect(throws: KernelImageError.notAKernel) { try SetupHeader(bzImage: []) }
        // A jump operand short of init_size leaves the header too short to use.
        var short = image
        short[0x201] = 0x20
        #expect(throws: KernelImageError.truncatedSetupHeader) { try SetupHeader(bzImage: short) }
    }

    @Test func synthesizedHeaderForELF() {
        let header = SetupHeader.synthesizedForELF()
        #expect(header.bootFlag == 0xAA55)
        #expect(header.version == 0x020F)
        #expect(header.kernelAlignment == 0x100_0000)
        #expect(header.commandLineSize == 2048)
        #expect(header.initrdAddressMax == 0x37FF_FFFF)
        #expect(Array(header.rawBytes[(0x202 - 0x1F1)..<(0x206 - 0x1F1)]) == Array("HdrS".utf8))
    }

    /// A real kernel, if this machine has one (in /boot or ~/.cache/swiftlet, or one
    /// directory down); the only test that may skip, and it does so silently.
    @Test func loadsARealBzImageIfPresent() throws {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
        let manager = FileManager.default
        let found = ["/boot", home + "/.cache/swiftlet"].flatMap { directory in
            manager.entriesOneLevelDown(directory)
                .filter { ($0 as NSString).lastPathComponent.hasPrefix("vmlinuz") || $0.hasSuffix("bzImage") }
                .map { directory + "/" + $0 }
        }
        guard let path = found.first else { return }
        let header = try SetupHeader(bzImage: try HostFile(path, role: .kernel).readAll(limit: 1 << 30))
        #expect(header.version >= 0x020C)
        #expect(header.payloadLength > 0)

        let memory = try GuestMemory(ranges: X86MemoryMap.ramRanges(size: 512 << 20))
        let entry = try LinuxBootLoader.load(
            kernelPath: path, initrdPath: nil, arguments: ["console=ttyS0"], memory: memory, rsdp: nil)
        if case .bzImage = entry.summary.kernelKind {
            // A decompressed vmlinux enters at phys_startup_64, inside its first segment.
            #expect(entry.rip >= 0x10_0000 && entry.summary.kernel.contains(entry.rip))
        } else {
            #expect(entry.rip == header.preferredAddress + 0x200)
        }
    }
}

extension FileManager {
    /// Names under `path` and under its immediate subdirectories; not deeper, since a
    /// kernel source tree may be among them.
    fileprivate func entriesOneLevelDown(_ path: String) -> [String] {
        let top = (try? contentsOfDirectory(atPath: path)) ?? []
        return top + top.flatMap { name in
            ((try? contentsOfDirectory(atPath: path + "/" + name)) ?? []).map { name + "/" + $0 }
        }
    }
}
