/// Why a payload in a supported format still could not be decompressed.
public enum DecompressionError: Error, Equatable, CustomStringConvertible {
    /// Fewer than the 4 bytes of recorded size, let alone a stream.
    case tooShort
    /// The recorded size is 0 or above the cap: refuse before allocating.
    case badRecordedSize(UInt64, limit: Int)
    /// The stream would produce more than the size recorded after it.
    case largerThanRecorded(PayloadFormat, recorded: Int)
    /// The input ran out before the stream ended.
    case truncated(PayloadFormat)
    /// The library rejected the data; `detail` is its own word for why.
    case corrupt(PayloadFormat, detail: String)

    public var description: String {
        switch self {
        case .tooShort:
            return "too short to be compressed"
        case .badRecordedSize(let size, let limit):
            return "recorded uncompressed size \(humanSize(size)) is not between 1 byte and \(humanSize(UInt64(limit)))"
        case .largerThanRecorded(let format, let recorded):
            return "\(format) stream decompresses to more than its recorded \(recorded) bytes"
        case .truncated(let format):
            return "\(format) stream is truncated"
        case .corrupt(let format, let detail):
            return "\(format) stream is corrupt (\(detail))"
        }
    }
}
