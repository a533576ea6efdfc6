import Foundation
import Testing
@testable import SwiftletMemory

/// Guest RAM stays out of core dumps: the kernel shows MADV_DONTDUMP as the `dd` flag in the
/// mapping's VmFlags line of /proc/self/smaps.
@Suite struct GuestMemoryDumpTests {
    /// The VmFlags of the mapping that holds `address`, or nil if there is none.
    func vmFlags(ofMappingAt address: UInt64) throws -> [Substring]? {
        // /proc files report size 0: read to the end rather than trust a size.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var inMapping = false
        for line in smaps.split(separator: "\n") {
            // A mapping's header: "start-end perms offset dev inode [path]".
            let range = line.prefix { $0 != " " }.split(separator: "-")
            if range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16) {
                inMapping = start <= address && address < end
            } else if inMapping, line.hasPrefix("VmFlags:") {
                return line.dropFirst("VmFlags:".count).split(separator: " ")
            }
        }
        return nil
    }

    @Test func anonymousRAMIsLeftOutOfCoreDumps() throws {
        let memory = try GuestMemory(ranges: [(0, 0x10000), (0x100000, 0x4000)])
        let flags = try #require(try vmFlags(ofMappingAt: memory.hostAddress(of: memory.regions[0])))
        #expect(flags.contains("dd"))
    }

    @Test func fileBackedRAMIsLeftOutOfCoreDumps() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-dd-\(UUID().uuidString)").path
        try Data(count: 0x14000).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let memory = try GuestMemory(ranges: [(0, 0x10000), (0x100000, 0x4000)], mappingFile: path)
        let flags = try #require(try vmFlags(ofMappingAt: memory.hostAddress(of: memory.regions[0])))
        #expect(flags.contains("dd"))
    }
}
