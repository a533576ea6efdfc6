/// Little-endian reads for checking encoded tables.
extension Array where Element == UInt8 {
    func le(_ offset: Int, _ count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(self[offset + $1]) << UInt64(8 * $1) }
    }

    func ascii(_ offset: Int, _ count: Int) -> String {
        String(decoding: self[offset..<(offset + count)], as: UTF8.self)
    }

    /// Whether `needle` occurs somewhere in the array.
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}
