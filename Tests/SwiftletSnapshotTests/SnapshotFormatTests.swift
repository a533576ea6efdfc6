import Foundation
import Testing
@testable import SwiftletSnapshot

@Suite struct SnapshotFormatTests {
    let sections = [
        SnapshotSection(.vcpu, payload: [1, 2, 3, 4]),
        SnapshotSection(.vcpu, payload: []),
        SnapshotSection(.vm, payload: Array(repeating: 0xAB, count: 1000)),
    ]
    let known: Set<SectionTag> = [.vcpu, .vm]

    @Test func roundTripsSectionsInOrder() throws {
        let bytes = SnapshotFormat.encode(sections)
        #expect(Array(bytes[0..<8]) == Array("SWLTSNAP".utf8))
        #expect(try SnapshotFormat.decode(bytes, known: known) == sections)
    }

    @Test func refusesAnotherFormatVersion() {
        var bytes = SnapshotFormat.encode(sections)
        bytes[8] = 2
        #expect(throws: SnapshotError.unsupportedVersion(found: 2, supported: 1)) {
            try SnapshotFormat.decode(bytes, known: known)
        }
    }

    @Test func refusesATruncatedFileWhereverItIsCut() {
        let bytes = SnapshotFormat.encode(sections)
        for length in [0, 5, 20, 40, bytes.count / 2, bytes.count - 1] {
            #expect(throws: SnapshotError.self) { try SnapshotFormat.decode(Array(bytes[0..<length]), known: known) }
            do {
                _ = try SnapshotFormat.decode(Array(bytes[0..<length]), known: known)
            } catch {
                guard case .truncated = error else { Issue.record("cut at \(length): \(error)"); continue }
            }
        }
    }

    @Test func refusesAppendedBytes() {
        let bytes = SnapshotFormat.encode(sections) + [0]
        #expect(throws: SnapshotError.trailingBytes(expected: UInt64(bytes.count - 1), actual: UInt64(bytes.count))) {
            try SnapshotFormat.decode(bytes, known: known)
        }
    }

    /// Every byte after the version field, flipped, is caught: by the length check where
    /// it hits the length, by the CRC everywhere else.
    @Test func catchesEveryCorruptedByte() {
        let bytes = SnapshotFormat.encode(sections)
        for offset in 12..<bytes.count {
            var corrupted = bytes
            corrupted[offset] ^= 0x40
            do {
                _ = try SnapshotFormat.decode(corrupted, known: known)
                Issue.record("byte \(offset) flipped was not noticed")
            } catch {
                switch error {
                case .checksumMismatch, .truncated, .trailingBytes: break
                default: Issue.record("byte \(offset): unexpected \(error)")
                }
            }
        }
    }

    @Test func refusesForeignFiles() {
        #expect(throws: SnapshotError.notASnapshot) {
            try SnapshotFormat.decode(Array("ELF and more bytes than the header has, to be sure".utf8), known: known)
        }
    }

    @Test func refusesUnknownRequiredSectionsAndSkipsOptionalOnes() throws {
        let future = SectionTag("NEW!")
        let optional = SnapshotFormat.encode(sections + [SnapshotSection(future, required: false, payload: [9])])
        #expect(try SnapshotFormat.decode(optional, known: known) == sections)
        let required = SnapshotFormat.encode(sections + [SnapshotSection(future, required: true, payload: [9])])
        #expect(throws: SnapshotError.unknownRequiredSection(tag: future.rawValue)) {
            try SnapshotFormat.decode(required, known: known)
        }
    }

    @Test func errorsAreOneLine() {
        let errors: [SnapshotError] = [
            .notASnapshot, .unsupportedVersion(found: 2, supported: 1), .truncated(expected: 100, actual: 50),
            .checksumMismatch(stored: 1, computed: 2), .unknownRequiredSection(tag: SectionTag("NEW!").rawValue),
            .malformedSection(tag: SectionTag.vcpu.rawValue, detail: "it ends 4 bytes early"),
            .incompatibleHost("vCPU 0 saw CPUID 0x1.0 ecx: bits 13 absent on this host"),
        ]
        for error in errors {
            #expect(!error.description.contains("\n"))
            #expect(!error.description.isEmpty)
        }
        #expect(SnapshotError.unknownRequiredSection(tag: SectionTag("NEW!").rawValue).description.contains("\"NEW!\""))
    }

    @Test func sectionReadersStopAtTheirEnd() throws {
        var writer = ByteWriter()
        writer.append(UInt32(7))
        writer.appendSized([1, 2, 3])
        var reader = ByteReader(SnapshotSection(.vm, payload: writer.bytes))
        #expect(try reader.read(UInt32.self) == 7)
        #expect(try reader.sizedBytes() == [1, 2, 3])
        try reader.finish()
        #expect(throws: SnapshotError.self) { try reader.read(UInt8.self) }
        var lying = ByteReader(SnapshotSection(.vm, payload: [0xff, 0xff, 0, 0, 1]))
        #expect(throws: SnapshotError.self) { try lying.sizedBytes() }
    }

    @Test func filesAreWrittenWholeAndReadBack() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-state-\(UUID().uuidString)").path
        defer { unlink(path) }
        try SnapshotFile.write(sections, to: path)
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        #expect(try SnapshotFile.read(path, known: known) == sections)
        #expect(throws: SnapshotError.self) { try SnapshotFile.read(path + ".absent", known: known) }
    }
}
