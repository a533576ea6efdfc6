import Foundation
import SwiftletMemory
import Testing
@testable import SwiftletSnapshot

/// How long writing guest RAM to a memory file takes, sparse against whole, per GiB, for
/// RAM that is untouched, a tenth written and all written; and how long mapping it back
/// takes. A measurement, not a check of Swiftlet's behaviour: it runs only when asked
/// (SWIFTLET_BENCH_MEMORY_FILE=GiB), as it writes gigabytes.
@Suite struct MemoryFileBenchmark {
    static let gibibytes = ProcessInfo.processInfo.environment["SWIFTLET_BENCH_MEMORY_FILE"].flatMap(Int.init)

    @Test(.enabled(if: gibibytes != nil, "set SWIFTLET_BENCH_MEMORY_FILE=<GiB> to measure memory-file writes"))
    func sparseAgainstWholeWrites() throws {
        let size = UInt64(Self.gibibytes ?? 1) << 30
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-bench-\(UUID().uuidString)").path
        defer { unlink(path) }
        for (name, fraction) in [("untouched", 0), ("a tenth written", 10), ("all written", 100)] {
            let memory = try GuestMemory(ranges: [(0, size)])
            let pages = Int(size) / 4096
            for page in stride(from: 0, to: pages, by: 1) where page % 100 < fraction {
                try memory.write(UInt64(page | 1), at: GuestAddress(UInt64(page) * 4096 + 8))
            }
            for sparse in [true, false] {
                let start = ContinuousClock.now
                try MemoryFile.write(memory, to: path, sparse: sparse)
                let written = ContinuousClock.now - start
                let mapStart = ContinuousClock.now
                let mapped = try MemoryFile.map(path, layout: GuestRAMLayout(memory))
                let mapping = ContinuousClock.now - mapStart
                #expect(try mapped.read(UInt64.self, at: GuestAddress(8)) == (fraction > 0 ? 1 : 0))
                var status = stat()
                stat(path, &status)
                print("memory file, \(size >> 30) GiB \(name), \(sparse ? "sparse" : "whole"): write+fsync \(written), map \(mapping), \((Int(status.st_blocks) * 512) >> 20) MiB on disk")
            }
        }
    }
}
